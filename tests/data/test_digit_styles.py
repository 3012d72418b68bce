"""gancore.styles: the paired digit style-transfer data.

References: scipy.ndimage for the morphology, torch's affine_grid for the shear,
numpy for the compositing and the texture crops.
"""
import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.data
import torch
import torch.nn.functional as F

import gancore.data.sources
from gancore.data import digit_styles as S
from gancore.data.digit_styles import (
    HOLDOUT_PAIR,
    STYLE_ATTRIBUTES,
    TEXTURES,
    UNSEEN_VALUES,
    DigitStyleDomain,
    Style,
    background_field,
    ink_field,
    make_style_splits,
    pad_to_32,
    render,
    render_styles,
    texture_patch,
)
from gancore.data.style_pairs import StyleDomain, make_splits, style_splits

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def mnist():
    images, labels = gancore.data.load_mnist()
    return images[::4], labels[::4]  # 1,250 real digits, every class


@pytest.fixture(scope="module")
def digits(mnist):
    return pad_to_32(mnist[0][:64])  # (64, 1, 32, 32)


@pytest.fixture(scope="module")
def sets(mnist):
    return make_style_splits(600, 150, seed=0, images=mnist[0], labels=mnist[1])


def rows(t):
    """Each image as bytes, to compare sets of images."""
    return {r.numpy().tobytes() for r in t.flatten(1)}


# ------------------------------------------------------------------------------ Style


def test_style_index_round_trip_over_every_style():
    combos = list(itertools.product(*(range(len(v)) for v in STYLE_ATTRIBUTES.values())))
    assert len(combos) == 3 * 3 * 9 * 7
    for combo in combos:
        assert Style.from_index(combo).index() == combo
    assert Style("bold", "right", "fire", "brick").index() == (2, 2, 3, 4)


@pytest.mark.parametrize("attr", list(STYLE_ATTRIBUTES))
def test_unknown_attribute_value_lists_valid_values(attr):
    with pytest.raises(ValueError) as err:
        Style(**{attr: "plaid"})
    message = str(err.value)
    assert attr in message and "'plaid'" in message
    assert all(v in message for v in STYLE_ATTRIBUTES[attr])


def test_bad_style_index_and_render_inputs_fail_loudly(digits):
    with pytest.raises(ValueError, match="out of range"):
        Style.from_index((0, 0, 9, 0))
    with pytest.raises(ValueError, match="4 entries"):
        Style.from_index((0, 0))
    with pytest.raises(TypeError, match="Style"):
        render(digits, "bold")
    with pytest.raises(ValueError, match="pad_to_32"):
        render(digits[:, 0], Style())
    with pytest.raises(ValueError, match="out of range"):
        render_styles(digits[:2], torch.tensor([[0, 0, 0, 0], [0, 3, 0, 0]]))


# ------------------------------------------------------------------------ rendering


def test_pad_to_32_is_exact():
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    y = pad_to_32(x)
    assert y.shape == (3, 1, 32, 32)
    assert torch.equal(y[..., 2:30, 2:30], x)
    assert (y[..., :2, :] == -1).all() and (y[..., :, 30:] == -1).all()
    with pytest.raises(ValueError, match="to_tensor"):
        pad_to_32(x * 127.5 + 127.5)
    with pytest.raises(ValueError, match="28, 28"):
        pad_to_32(torch.zeros(3, 1, 20, 20))


def test_render_shape_range_and_determinism(digits):
    style = Style("bold", "left", "coffee", "grass")
    before = digits.clone()
    out = render(digits, style)
    assert out.shape == (64, 3, 32, 32) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    assert torch.equal(out, render(digits, style))
    assert torch.equal(digits, before)  # the input is not modified


def test_plain_style_matches_numpy_compositing(digits):
    m = ((digits.numpy() + 1) / 2).astype(np.float64)                 # (N, 1, S, S)
    ink, bg = np.array(S.SOLID_INKS["red"]), np.array(S.SOLID_BACKGROUNDS["cream"])
    expected = (m * ink.reshape(1, 3, 1, 1) + (1 - m) * bg.reshape(1, 3, 1, 1)) * 2 - 1
    out = render(digits, Style("regular", "upright", "red", "cream")).numpy()
    assert np.abs(out - expected).max() < 1e-6


def _mask_of(out, ink="black", background="white"):
    """Invert the compositing of a solid ink on a solid background -> coverage."""
    ink, bg = torch.tensor(S.SOLID_INKS[ink]), torch.tensor(S.SOLID_BACKGROUNDS[background])
    return (((out[:, 0] + 1) / 2 - bg[0]) / (ink[0] - bg[0])).numpy()


def test_stroke_weights_match_scipy_morphology(digits):
    m = ((digits[:, 0].numpy() + 1) / 2).astype(np.float64)         # (N, S, S)
    thin = np.stack([ndi.grey_erosion(d, footprint=np.ones((2, 2)), origin=-1, mode="constant", cval=1.0)
                     for d in m])
    bold = np.stack([ndi.grey_dilation(d, size=(3, 3), mode="constant", cval=0.0) for d in m])
    assert np.abs(_mask_of(render(digits, Style(stroke="thin"))) - thin).max() < 1e-5
    assert np.abs(_mask_of(render(digits, Style(stroke="bold"))) - bold).max() < 1e-5
    assert np.abs(_mask_of(render(digits, Style(stroke="regular"))) - m).max() < 1e-5


def test_bold_has_more_ink_than_regular_than_thin(digits):
    ink = {w: _mask_of(render(digits, Style(stroke=w))).sum(axis=(1, 2)) for w in STYLE_ATTRIBUTES["stroke"]}
    assert (ink["bold"] > 1.3 * ink["regular"]).all()
    assert (ink["thin"] < 0.8 * ink["regular"]).all()


def test_shear_matches_affine_grid(digits):
    mask = (digits + 1) / 2
    shear = torch.linspace(-0.3, 0.3, len(mask))
    theta = torch.zeros(len(mask), 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 1] = shear
    grid = F.affine_grid(theta, list(mask.shape), align_corners=False)
    reference = F.grid_sample(mask, grid, align_corners=False)
    assert (S._shear(mask, shear) - reference).abs().max().item() < 1e-5  # float32 grid rounding


def test_slant_moves_each_rows_centre_of_mass(digits):
    cols = np.arange(32)

    def row_com(slant):  # (N, 32) centre-of-mass column of each row, nan where a row is empty
        m = _mask_of(render(digits, Style(slant=slant)))
        with np.errstate(invalid="ignore"):
            return (m * cols).sum(2) / m.sum(2)

    upright = row_com("upright")
    for slant, sign in (("right", 1), ("left", -1)):
        shift = row_com(slant) - upright
        top, bottom = np.nanmean(shift[:, 6:13]), np.nanmean(shift[:, 19:26])
        assert sign * top > 1.0 and sign * bottom < -1.0  # the top leans to the slant's side


@pytest.mark.parametrize("attr", ["ink", "background"])
def test_every_ink_and_background_renders_differently(digits, attr):
    images = torch.stack([render(digits[:4], Style(**{attr: v})) for v in STYLE_ATTRIBUTES[attr]])
    for i, j in itertools.combinations(range(len(images)), 2):
        assert (images[i] - images[j]).abs().mean() > 0.02, (STYLE_ATTRIBUTES[attr][i], STYLE_ATTRIBUTES[attr][j])


def test_fields_show_through_exactly_where_ink_is_full_or_absent(digits):
    style = Style("regular", "upright", "fur", "brick")
    out = (render(digits, style) + 1) / 2
    m = (digits + 1) / 2                                             # (N, 1, S, S)
    full, empty = (m == 1).expand_as(out), (m == 0).expand_as(out)
    ink, bg = ink_field("fur").expand_as(out), background_field("brick").expand_as(out)
    assert full.sum() > 1000 and empty.sum() > 1000
    assert (out[full] - ink[full]).abs().max() < 1e-6
    assert (out[empty] - bg[empty]).abs().max() < 1e-6


def test_textures_load_offline_and_match_a_numpy_crop():
    for name in TEXTURES:
        patch = texture_patch(name)
        assert patch.shape == (3, 32, 32) and patch.min() >= 0 and patch.max() <= 1
        assert patch.std() > 0.05, name  # a texture, not a flat colour
    source, top, left, crop, tint = TEXTURES["brick"]
    x = skimage.data.brick()[top:top + crop, left:left + crop].astype(np.float64) / 255
    x = x.reshape(32, crop // 32, 32, crop // 32).mean(axis=(1, 3))  # area shrink
    x = (x - x.min()) / (x.max() - x.min())
    expected = x[None] * np.array(tint).reshape(3, 1, 1)
    assert np.abs(texture_patch("brick").numpy() - expected).max() < 1e-5


def test_texture_patches_are_cached_and_safe_to_modify():
    first = texture_patch("grass")
    hits = S._texture.cache_info().hits
    first.zero_()
    again = texture_patch("grass")
    assert S._texture.cache_info().hits == hits + 1
    assert again.std() > 0.05
    with pytest.raises(ValueError, match="valid values"):
        texture_patch("marble")


def test_mixed_batch_renders_each_image_as_alone(digits):
    gen = torch.Generator().manual_seed(1)
    sizes = torch.tensor([len(v) for v in STYLE_ATTRIBUTES.values()])
    index = (torch.rand(len(digits), 4, generator=gen) * sizes).long()
    batch = render_styles(digits, index)
    for i in range(len(digits)):
        assert torch.equal(batch[i:i + 1], render(digits[i:i + 1], Style.from_index(index[i])))


# --------------------------------------------------------------------------- splits


def test_style_splits_partition_every_style():
    domain = DigitStyleDomain(torch.zeros(10, 1, 28, 28), torch.arange(10))
    splits = style_splits(domain, seed=0)
    train, unseen = set(splits["train"]), set(splits["unseen"])
    assert not train & unseen
    assert train | unseen == set(itertools.product(*(range(len(v)) for v in STYLE_ATTRIBUTES.values())))
    names = list(STYLE_ATTRIBUTES)
    for attr, values in STYLE_ATTRIBUTES.items():  # every value but the unseen ones is trained on
        used = {STYLE_ATTRIBUTES[attr][c[names.index(attr)]] for c in train}
        assert used == set(values) - set(UNSEEN_VALUES.get(attr, ()))
    a, b = (names.index(n) for n in HOLDOUT_PAIR)
    pairs = {(c[a], c[b]) for c in train}
    assert len(pairs) == 8 * 6 - 8  # each seen ink lost exactly one seen background
    assert style_splits(domain, seed=1) != splits  # the held-out pairs depend on the seed


def test_split_keys_shapes_and_ranges(sets):
    assert list(sets) == ["train", "test_seen", "test_unseen"]
    for name, s in sets.items():
        n = 600 if name == "train" else 150
        assert s.split == name and len(s) == n
        assert s.content.shape == (n, 1, 32, 32) and s.exemplar_content.shape == (n, 1, 32, 32)
        assert s.exemplar.shape == s.target.shape == (n, 3, 32, 32)
        assert s.digit.dtype == s.style.dtype == torch.int64 and s.style.shape == (n, 4)
        for t in (s.content, s.exemplar, s.target):
            assert t.min() >= -1 and t.max() <= 1


def test_targets_and_exemplars_are_renders_in_the_samples_style(sets):
    for s in sets.values():
        for i in range(0, len(s), 13):
            style = Style.from_index(s.style[i])
            assert s.style_names(i) == {a: getattr(style, a) for a in STYLE_ATTRIBUTES}
            assert torch.equal(s.target[i:i + 1], render(s.content[i:i + 1], style))
            assert torch.equal(s.exemplar[i:i + 1], render(s.exemplar_content[i:i + 1], style))
        assert (s.exemplar_digit != s.digit).all()  # another class, so another image
        assert not (s.exemplar_content == s.content).flatten(1).all(1).any()


def test_content_digits_disjoint_between_train_and_test(sets, mnist):
    train = rows(sets["train"].content) | rows(sets["train"].exemplar_content)
    for name in ("test_seen", "test_unseen"):
        test = rows(sets[name].content) | rows(sets[name].exemplar_content)
        assert not train & test
    assert rows(sets["train"].content) <= rows(pad_to_32(mnist[0]))  # real digits, padded


def test_seen_and_unseen_styles(sets):
    train = sets["train"].combos()
    assert sets["test_seen"].combos() <= train
    unseen = sets["test_unseen"].combos()
    assert unseen and not unseen & train
    for attr, values in UNSEEN_VALUES.items():  # the held-out textures occur in test only
        col = list(STYLE_ATTRIBUTES).index(attr)
        held = {STYLE_ATTRIBUTES[attr].index(v) for v in values}
        assert not {c[col] for c in train} & held
        assert {c[col] for c in unseen} & held
    ink, bg = (list(STYLE_ATTRIBUTES).index(a) for a in ("ink", "background"))
    novel_pairs = [c for c in unseen if STYLE_ATTRIBUTES["ink"][c[ink]] not in UNSEEN_VALUES["ink"]
                   and STYLE_ATTRIBUTES["background"][c[bg]] not in UNSEEN_VALUES["background"]]
    assert novel_pairs  # unseen combinations of seen values, too


def test_same_seed_same_data_other_seed_other_data(mnist, sets):
    again = make_style_splits(600, 150, seed=0, images=mnist[0], labels=mnist[1])
    other = make_style_splits(600, 150, seed=1, images=mnist[0], labels=mnist[1])
    for name in sets:
        for field in ("content", "exemplar", "target", "digit", "style"):
            assert torch.equal(getattr(sets[name], field), getattr(again[name], field))
        assert not torch.equal(sets[name].content, other[name].content)
        assert not torch.equal(sets[name].style, other[name].style)


def test_subset_and_to(sets):
    s = sets["test_seen"]
    sub = s.subset(torch.tensor([3, 1]))
    assert len(sub) == 2 and sub.split == "test_seen"
    assert torch.equal(sub.target[0], s.target[3]) and torch.equal(sub.exemplar_digit[1], s.exemplar_digit[1])
    assert len(s.subset(s.digit == 3)) == int((s.digit == 3).sum())
    assert s.to("cpu").target.device.type == "cpu"


def test_default_content_comes_from_load_mnist(monkeypatch):
    gen = torch.Generator().manual_seed(0)
    fake = gancore.data.ImageSplit(torch.rand(100, 1, 28, 28, generator=gen) * 2 - 1,
                                   torch.arange(100) % 10, "fake")
    monkeypatch.setattr(gancore.data.sources, "load_mnist", lambda *a, **k: fake)
    out = make_style_splits(40, 10, seed=0)
    assert rows(out["train"].content) <= rows(pad_to_32(fake.images))


def test_bad_split_arguments(mnist):
    images, labels = mnist
    with pytest.raises(ValueError, match="n_train"):
        make_style_splits(0, 10, images=images, labels=labels)
    with pytest.raises(ValueError, match="both images and labels"):
        make_style_splits(10, 10, images=images)
    with pytest.raises(ValueError, match="labels"):
        make_style_splits(10, 10, images=images, labels=labels[:5])
    with pytest.raises(ValueError, match="test_fraction"):
        make_style_splits(10, 10, images=images, labels=labels, test_fraction=1.5)


def test_a_new_domain_plugs_into_make_splits():
    class InvertedDigits(StyleDomain):  # the extension point: attributes, content, style, render
        name = "toy"
        attributes = {"tone": ("plain", "inverted"), "colour": ("red", "green", "blue")}
        unseen_values = {}
        holdout_pair = ("tone", "colour")

        def __init__(self):
            self.images = torch.rand(50, 1, 8, 8) * 2 - 1
            self.labels = torch.arange(50) % 5
            self.test_fraction = 0.2

        def style(self, index):
            return tuple(values[i] for values, i in zip(self.attributes.values(), index))

        def render(self, content, style):
            x = -content if style[0] == "inverted" else content
            channel = self.attributes["colour"].index(style[1])
            out = torch.full((len(x), 3, 8, 8), -1.0)
            out[:, channel] = x[:, 0]
            return out

    domain = InvertedDigits()
    out = make_splits(domain, 30, 10, seed=0)
    assert out["train"].target.shape == (30, 3, 8, 8)
    assert len(out["train"].combos()) == 4 and len(out["test_unseen"].combos()) == 2
    assert not out["train"].combos() & out["test_unseen"].combos()
    s = out["test_unseen"]
    assert s.attributes["tone"] == ("plain", "inverted")
    for i in range(len(s)):
        expected = domain.render(s.content[i:i + 1], tuple(s.style_names(i).values()))
        assert torch.equal(s.target[i:i + 1], expected)
