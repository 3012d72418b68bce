"""Degradations against scipy, torch.nn.functional called directly and hand-computed sizes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from gancore.data.digit_styles import make_style_splits, render_styles
from gancore.quality import degradations as dg
from gancore.quality.degradations import IMAGE_DEGRADATIONS, degrade

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def images():
    """Smooth random images (N, C, H, W) in [-1, 1], not square, so rows and columns can't mix;
    smooth, as white noise loses all it can at the first nearest-neighbour down-sampling."""
    x = torch.rand(6, 3, 13, 15, generator=gen(1)) * 2 - 1
    return F.interpolate(x, size=(20, 24), mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def style_set():
    digits = torch.rand(40, 1, 28, 28, generator=gen(2)) * 2 - 1
    return make_style_splits(8, 8, seed=0, images=digits, labels=torch.arange(40) % 5)["train"]


@pytest.mark.parametrize("kind", IMAGE_DEGRADATIONS)
def test_strength_zero_is_identity_and_damage_grows(images, kind):
    assert torch.equal(degrade(images, kind, 0.0), images)
    errors = [float((degrade(images, kind, s, gen()) - images).pow(2).mean()) for s in (0.25, 0.5, 1.0)]
    assert 0 < errors[0] < errors[1] < errors[2], errors
    out = degrade(images, kind, 1.0, gen())
    assert out.shape == images.shape and out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize("kind", ["noise", "occlusion", "colour_shift"])
def test_deterministic_given_the_generator(images, kind):
    a, b = degrade(images, kind, 0.6, gen(3)), degrade(images, kind, 0.6, gen(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, degrade(images, kind, 0.6, gen(4)))


def test_noise_std_measured():
    out = degrade(torch.zeros(64, 1, 28, 28), "noise", 0.4, gen())
    assert float(out.std()) == pytest.approx(0.4 * dg.NOISE_MAX_STD, rel=0.01)  # clamping at 5 sigma: nil
    assert abs(float(out.mean())) < 0.002


@pytest.mark.parametrize("strength", [0.3, 1.0])
def test_blur_matches_scipy_gaussian_filter(images, strength):
    sigma = strength * dg.BLUR_MAX_SIGMA * 20
    expected = gaussian_filter(images.double().numpy(), sigma=(0, 0, sigma, sigma), mode="nearest", truncate=4.0)
    np.testing.assert_allclose(degrade(images, "blur", strength).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("strength", [0.2, 0.7, 1.0])
def test_occlusion_covers_the_stated_area(strength):
    out = degrade(torch.ones(5, 3, 28, 28), "occlusion", strength, gen())
    h, w = dg.occlusion_size(28, 28, strength)
    hidden = (out == dg.OCCLUSION_FILL).all(1).sum(dim=(1, 2))  # pixels per image
    assert hidden.tolist() == [h * w] * 5
    assert h * w / 28**2 == pytest.approx(strength * dg.OCCLUSION_MAX_AREA, abs=0.03)


def test_colour_shift_length_and_grey_contrast():
    out = degrade(torch.zeros(7, 3, 4, 4), "colour_shift", 0.5, gen())
    offsets = out[:, :, 0, 0]
    assert torch.allclose(out, offsets[:, :, None, None].expand_as(out))  # one offset per image
    assert torch.allclose(offsets.norm(dim=1), torch.full((7,), 0.5 * dg.COLOUR_MAX_SHIFT))
    grey = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3).repeat(8, 1, 1, 1)
    got = degrade(grey, "colour_shift", 0.5, gen())
    shift = got[:, 0, 0, 1]                                  # value of the 0 pixel: the brightness
    assert torch.allclose(shift.abs(), torch.full((8,), 0.5 * dg.COLOUR_MAX_SHIFT))
    assert len(shift.sign().unique()) == 2                   # both directions drawn
    contrast = 1 - 0.5 * dg.CONTRAST_MAX_LOSS
    assert torch.allclose(got[:, 0, 0], (contrast * torch.tensor([-1.0, 0.0, 1.0]) + shift[:, None]).clamp(-1, 1))


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_resample_is_an_interpolate_round_trip(images, mode, strength):
    f = 1 + strength * (dg.RESAMPLE_MAX_FACTOR - 1)
    small = (round(20 / f), round(24 / f))
    assert dg.resample_size(20, 24, strength) == small and dg.resample_size(28, 28, 1.0) == (7, 7)
    extra = {} if mode == "nearest" else {"align_corners": False}
    expected = F.interpolate(F.interpolate(images, size=small, mode=mode, **extra), size=(20, 24), mode=mode,
                             **extra).clamp(-1, 1)
    assert torch.equal(degrade(images, f"resample_{mode}", strength), expected)


def test_bad_input_fails_loudly(images):
    with pytest.raises(ValueError, match="unknown degradation 'sharpen'.*noise"):
        degrade(images, "sharpen", 0.5)
    for bad in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match=r"strength must be a number in \[0, 1\]"):
            degrade(images, "noise", bad)
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\].*to_tensor"):
        degrade(images * 255, "blur", 0.5)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        degrade(images[0], "blur", 0.5)


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0])
def test_drop_modes_keeps_size_and_drops_classes(strength):
    labels = torch.arange(50) % 10
    images = (labels.float() / 10).view(-1, 1, 1, 1).expand(-1, 1, 2, 2)  # each image shows its class
    out = dg.drop_modes(images, labels, strength, gen())
    assert out.shape == images.shape
    assert len(out[:, 0, 0, 0].unique()) == 10 - round(strength * 9)
    assert torch.equal(out, dg.drop_modes(images, labels, strength, gen()))


def test_memorise_copies_the_stated_fraction():
    samples = torch.rand(40, 1, 3, 3, generator=gen(5)) * 2 - 1
    train = torch.rand(30, 1, 3, 3, generator=gen(6)) * 2 - 1
    assert torch.equal(dg.memorise(samples, train, 0.0, gen()), samples)
    out = dg.memorise(samples, train, 0.5, gen())
    is_copy = (out[:, None] == train[None]).flatten(2).all(2).any(1)  # (N,) equals some training image
    assert int(is_copy.sum()) == 20
    assert torch.equal(out[~is_copy], samples[~is_copy])
    with pytest.raises(ValueError, match="needs >= 40 training images"):
        dg.memorise(samples, train, 1.0, gen())


@pytest.mark.parametrize("kind", ["wrong_style", "wrong_content"])
def test_wrong_style_and_content_rerender_a_fraction(style_set, kind):
    data = style_set
    assert torch.equal(getattr(dg, kind)(data.target, data, 0.0, gen()), data.target)
    out = getattr(dg, kind)(data.target, data, 0.5, gen())
    changed = (out != data.target).flatten(1).any(1)
    assert int(changed.sum()) == 4
    for i in changed.nonzero().squeeze(1).tolist():  # each wrong target is one a donor sample explains
        if kind == "wrong_style":
            donors = [j for j in range(len(data)) if not torch.equal(data.style[j], data.style[i])]
            candidates = render_styles(data.content[i:i + 1].expand(len(donors), -1, -1, -1), data.style[donors])
        else:
            donors = [j for j in range(len(data)) if data.digit[j] != data.digit[i]]
            candidates = render_styles(data.content[donors], data.style[i:i + 1].expand(len(donors), -1))
        assert (candidates == out[i]).flatten(1).all(1).any()
    with pytest.raises(ValueError, match="one row per sample"):
        getattr(dg, kind)(data.target[:3], data, 0.5)
