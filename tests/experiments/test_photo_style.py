"""Notebook 06's pieces: the grader's independence, D's exemplar gap, the targets, tiling and sizes."""
import pytest
import torch
from torch import nn

from gancore.data.photo_styles import NPRStyle, render_npr
from gancore.experiments.photo_style import (
    METHODS, PhotoStyleTransfer, exemplar_gap, filter_footprint, input_window, joined, per_filter_ssim,
    per_filter_table, photo_reading, size_reading, size_sweep, split_table, tiled_translate)
from gancore.metrics.per_image import ssim
from gancore.experiments.style_transfer import translate
from gancore.metrics.photo_nets import get_photo_grader, photo_grader_set
from gancore.nets.feature import FeatureNet
from gancore.nets.translation import StyleGenerator
from gancore.workbook.notebook import ParameterError

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def grader_set():
    return photo_grader_set(seed=0, max_tiles=3)


def test_grader_set_is_every_tile_in_every_style(grader_set):
    assert len(grader_set) == 3 * 15 and len(grader_set.combos()) == 15
    i = 20
    style = NPRStyle.from_index(grader_set.style[i].tolist())
    assert torch.equal(grader_set.target[i:i + 1], render_npr(grader_set.content[i:i + 1], style))
    train_tiles = {t.numpy().tobytes() for t in grader_set.content}
    test = photo_grader_set(seed=0, max_tiles=3, pool="test")
    assert not train_tiles & {t.numpy().tobytes() for t in test.content}


def test_grader_shares_no_layer_design_with_the_loss_net(tmp_path, monkeypatch, grader_set):
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))
    from gancore.metrics.photo_nets import GraderConfig
    grader = get_photo_grader(grader_set, GraderConfig(width=4, hidden=8, epochs=1), progress=False)
    loss_net = FeatureNet({"digit": 10, "filter": 5, "scale": 3}, 16, 128, size=64)
    kinds = lambda net: {type(m).__name__ for m in net.modules()}  # noqa: E731
    assert "BatchNorm2d" in kinds(loss_net) and "BatchNorm2d" not in kinds(grader)
    assert "GroupNorm" in kinds(grader) and "MaxPool2d" not in kinds(grader)
    assert not any(p.requires_grad for p in grader.parameters())
    for size in (64, 128):  # global pooling: any size divisible by 8
        x = torch.zeros(2, 3, size, size)
        assert grader.fc(grader.features(x)[-1]).shape == (2, 8)
    assert list(tmp_path.glob("photo_grader_*.pt"))  # cached
    with pytest.raises(ValueError, match="divisible by 8"):
        grader.features(torch.zeros(1, 3, 60, 60))


class _ExemplarMeanD(nn.Module):
    """A 'discriminator' whose patch scores are the exemplar's mean: the gap is known in advance."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, image, content, exemplar):
        return exemplar.mean(dim=(1, 2, 3), keepdim=True).expand(-1, 1, 2, 2) + self.dummy


def test_exemplar_gap_against_hand_computation(grader_set):
    data = grader_set
    gap = exemplar_gap(_ExemplarMeanD(), data, seed=0)
    from gancore.data.style_pairs import mismatched_exemplars
    wrong = mismatched_exemplars(data, seed=0)
    right_mean, wrong_mean = data.exemplar.double().mean(), wrong.double().mean(dim=(1, 2, 3)).mean()
    assert gap["right"] == pytest.approx(float(right_mean), abs=1e-5)
    assert gap["gap"] == pytest.approx(float(right_mean - wrong_mean), abs=1e-5)


def _splits(grader_set):
    return {"test_seen": grader_set.subset(slice(0, 30)), "test_unseen": grader_set.subset(slice(30, 45))}


def test_per_filter_ssim_averages_each_filters_images(grader_set):
    splits = _splits(grader_set)
    noisy = {key: {"copy": splits[name].content, "full": splits[name].target.flip(-1)}
             for key, name in (("seen", "test_seen"), ("unseen", "test_unseen"))}
    table = per_filter_ssim(noisy, splits)
    data = splits["test_seen"]
    kuwahara = data.style[:, 0] == 2  # NPR_ATTRIBUTES["filter"].index("kuwahara")
    by_hand = ssim((data.content[kuwahara] + 1) / 2, (data.target[kuwahara] + 1) / 2).mean()
    assert table["seen"]["copy"]["kuwahara"] == pytest.approx(float(by_hand), abs=1e-6)
    present = {("cartoon", "pencil", "kuwahara", "posterize", "halftone")[k] for k in data.style[:, 0].tolist()}
    assert set(table["seen"]["full"]) == present and len(present) >= 3
    assert per_filter_table(table).loc[("unseen", "full")].notna().any()


def _metrics(full_ssim, full_fd):
    m = {name: {"ssim": 0.3, "fd": 10.0} for name in METHODS}
    m["full"] = {"ssim": full_ssim, "fd": full_fd}
    return {"seen": m, "unseen": m}


def test_photo_reading_says_what_is_learnt_and_what_is_not():
    per_filter = {key: {"copy": {"pencil": 0.5, "kuwahara": 0.70}, "full": {"pencil": 0.82, "kuwahara": 0.72}}
                  for key in ("seen", "unseen")}
    text = photo_reading(_metrics(0.77, 7.0), per_filter, {"full": 1.02, "unet_untrained": 3.5})
    assert "clearly learns pencil (0.82 vs 0.50)" in text
    assert "within 0.10 of the copy on kuwahara (0.72 vs 0.70)" in text
    assert "the full model is lowest" in text and "full 1.02, unet_untrained 3.50" in text
    assert "l1 is lowest" in photo_reading(_metrics(0.77, 12.0), per_filter, {"full": 1.0})


def test_tiled_translate_is_translate_per_tile():
    torch.manual_seed(0)
    G = StyleGenerator(3, 3, 3, width=4, style_dim=8, prepost=True)
    torch.nn.init.normal_(G.to_image.weight, std=0.1)  # as if trained: the U-Net's correction is not 0
    x, e = torch.rand(2, 3, 16, 32) * 2 - 1, torch.rand(2, 3, 16, 32) * 2 - 1
    out = tiled_translate(G, x, e, tile=16)
    assert torch.allclose(out[..., 16:], translate(G, x[..., 16:], e[..., 16:]), atol=1e-6)
    assert torch.allclose(tiled_translate(G, x[..., :16], e[..., :16], tile=16), translate(G, x[..., :16], e[..., :16]))
    assert 1 < input_window(G, size=32) <= 32


@pytest.mark.parametrize("style", [NPRStyle("kuwahara", "fine"), NPRStyle("cartoon", "fine"),
                                   NPRStyle("posterize", "medium")])
def test_filter_footprint_bounds_what_one_pixel_changes(style):
    photo = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    bumped = photo.clone()
    bumped[..., 24, 24] = -photo[..., 24, 24]
    changed = (render_npr(bumped, style) - render_npr(photo, style)).abs().amax(1)[0] > 0
    rows, cols = changed.nonzero(as_tuple=True)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= filter_footprint(style)


def test_size_sweep_and_tables(grader_set):
    torch.manual_seed(0)
    G = StyleGenerator(3, 3, 3, width=4, style_dim=8, prepost=True)
    photo = torch.rand(1, 3, 128, 128) * 2 - 1
    table = size_sweep(G, photo, photo.flip(-1), [NPRStyle("posterize", "fine")], sizes=(64, 128), n_crops=2)
    assert list(table.index) == [64, 128] and table["images"].tolist() == [2, 2]
    assert ((table["ssim"] > -1) & (table["ssim"] < 1)).all()
    both = joined(grader_set.subset(slice(0, 5)), grader_set.subset(slice(5, 9)))
    assert len(both) == 9 and torch.equal(both.target[5:], grader_set.target[5:9])
    assert split_table({"a": both}).loc["a", "triples"] == 9


def test_parameters_of_each_method():
    cfg = PhotoStyleTransfer()
    assert cfg.method_settings("l1")["perceptual"] == 0 and cfg.method_settings("l1")["adv_weight"] == 0
    assert cfg.method_settings("l1+perceptual")["adv_weight"] == 0
    assert cfg.method_settings("l1+perceptual")["style"] == cfg.style > 0
    assert {cfg.method_settings(m)["arch"] for m in ("l1", "l1+perceptual", "full")} == {"filter"}
    assert cfg.method_settings("l1")["ssim"] == cfg.ssim > 0
    with pytest.raises(ValueError, match="unknown method"):
        cfg.method_settings("copy")
    with pytest.raises(ParameterError, match="demo_style"):
        PhotoStyleTransfer(demo_style="kuwahara:4")


def _sizes_frame(ssim_big, tiled_big, se_big=0.01):
    import pandas as pd

    return pd.DataFrame({"ssim": [0.30, ssim_big], "ssim_se": [0.01, se_big], "ssim_tiled": [0.30, tiled_big],
                         "colour_transfer_ssim": [0.20, 0.25]}, index=[64, 256])


@pytest.mark.parametrize("tiled_big, blamed", [(0.50, "are what breaks"), (0.30, "context lost at tile borders"),
                                               (0.40, "change nothing measurable")])
def test_size_reading_blames_what_the_numbers_show(tiled_big, blamed):
    from gancore.data.photo_input import parse_photo_style

    styles = [parse_photo_style(name) for name in ("kuwahara:fine", "pencil:coarse", "posterize")]
    window = min(filter_footprint(st) for st in styles)  # at least one style reaches further unless all are equal
    text = size_reading(_sizes_frame(0.40, tiled_big), 0.35, (1, 3, 320, 472), window, styles)
    assert blamed in text
    assert "64 px 0.300, 256 px 0.400" in text and "320×472 photo 0.350" in text
    assert "changes by +0.100, colour transfer's by +0.050" in text and "+0.050)" in text
    wider = [f"{st.filter}:{st.scale}" for st in styles if filter_footprint(st) > window]
    assert all(name in text for name in wider)
