"""SSIM and PSNR over other value ranges against scikit-image, the Gram-matrix style distance,
and the per-image metrics' refusal of bad images. (The [0, 1] scikit-image comparisons are in
tests/experiments/test_style_transfer.py.)"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gancore.losses import perceptual_loss, style_loss
from gancore.metrics.per_image import (
    PSNR_CAP,
    hole_psnr,
    hole_ssim,
    perceptual_distance,
    perceptual_distances,
    psnr,
    ssim,
    ssim_map,
    style_distance,
)
from gancore.nets.feature import FeatureNet

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


def pairs_in(low, high, n=4, seed=0, size=16):
    """Images (n, 3, size, size) in [low, high] and noisy, contrast-changed copies in that range."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64)
    b = (0.8 * a + 0.1 + 0.15 * torch.randn(a.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return low + (high - low) * a, low + (high - low) * b


@pytest.mark.parametrize("low, high", [(0.0, 255.0), (-1.0, 1.0)])
def test_ssim_and_psnr_match_skimage_for_other_data_ranges(low, high):
    a, b = pairs_in(low, high)
    data_range = high - low
    ours_ssim, ours_psnr = ssim(a, b, data_range=data_range), psnr(a, b, data_range=data_range)
    for i in range(len(a)):
        x, y = a[i].numpy(), b[i].numpy()
        ref_ssim = structural_similarity(x, y, channel_axis=0, data_range=data_range)
        ref_psnr = peak_signal_noise_ratio(x, y, data_range=data_range)
        assert abs(float(ours_ssim[i]) - ref_ssim) < 1e-5
        assert abs(float(ours_psnr[i]) - ref_psnr) < 1e-4
    assert 0.1 < float(ours_ssim.min()) and float(ours_ssim.max()) < 0.95  # neither trivial
    # the pictures divided by the range score the same with data_range 1: C1, C2 and the peak
    # scale with L. (Not shifted: SSIM's luminance term 2 mu_a mu_b / (mu_a^2 + mu_b^2) is not
    # shift-invariant, so [-1, 1] and [0, 1] copies of one picture score differently.)
    unit_a, unit_b = a / data_range, b / data_range
    assert (ssim(unit_a, unit_b) - ours_ssim).abs().max() < 1e-5
    assert (psnr(unit_a, unit_b) - ours_psnr).abs().max() < 1e-4


def test_ssim_and_psnr_refuse_values_outside_the_declared_range():
    a, b = pairs_in(0.0, 255.0)
    for metric in (ssim, psnr):
        with pytest.raises(ValueError, match=r"span \[0.*255.*wider than data_range=2: pass the width"):
            metric(a, b, data_range=2)  # 0..255 images where [-1, 1] was declared
        with pytest.raises(ValueError, match="wider than data_range=1"):
            metric(a / 255 * 2 - 1, b / 255 * 2 - 1)  # [-1, 1] images, default [0, 1]
        with pytest.raises(ValueError, match="data_range must be a positive number"):
            metric(a, b, data_range=0)


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")])
def test_per_image_metrics_refuse_nan_and_inf(bad_value):
    a, b = pairs_in(0.0, 1.0)
    b[2, 1, 3, 4] = bad_value
    for metric in (ssim, psnr):
        with pytest.raises(ValueError, match="images b hold NaN or inf"):
            metric(a, b)
    net = OwnPixelsAndPooled()
    with pytest.raises(ValueError, match="images a hold NaN or inf"):
        style_distance(b, a, net)
    with pytest.raises(ValueError, match="NaN or inf"):
        perceptual_distance(a.float(), b.float(), net)


# ------------------------------------------------------------------------- style distance


class OwnPixelsAndPooled:
    """A stand-in feature net: the image itself and its 2 x 2 average pool, so the Gram
    matrices are of the pixels, easy to compute independently."""

    device = torch.device("cpu")

    def features(self, x):
        return [x, F.avg_pool2d(x, 2)]


def gram_by_einsum(x):
    """G[c, c'] = sum_hw x[c, h, w] x[c', h, w] / (C H W), for one image (C, H, W)."""
    c, h, w = x.shape
    return torch.einsum("chw,dhw->cd", x, x) / (c * h * w)


def test_style_distance_is_the_squared_gram_difference_per_layer():
    a, b = pairs_in(-1.0, 1.0, n=5, seed=1)
    net = OwnPixelsAndPooled()
    ours = style_distance(a, b, net, batch_size=2)  # batches of 2, 2, 1
    assert ours.shape == (5,)
    for i in range(5):
        expected = sum(((gram_by_einsum(fa[i]) - gram_by_einsum(fb[i])) ** 2).mean()
                       for fa, fb in zip(net.features(a), net.features(b)))
        assert abs(float(ours[i]) - float(expected)) < 1e-6 * float(expected)
    assert float(ours.min()) > 0


def test_style_distance_ignores_layout_which_ssim_does_not():
    a, _ = pairs_in(0.0, 1.0, n=3, seed=2)
    shuffled = a.flatten(2)[:, :, torch.randperm(16 * 16, generator=torch.Generator().manual_seed(0))]
    shuffled = shuffled.reshape(a.shape)  # the same pixels, in another place each
    pixels_only = type("PixelsOnly", (), {"device": torch.device("cpu"), "features": lambda self, x: [x]})()
    assert float(style_distance(a, shuffled, pixels_only).abs().max()) < 1e-9
    assert float(ssim(a, shuffled).max()) < 0.2
    assert torch.equal(style_distance(a, a, OwnPixelsAndPooled()), torch.zeros(3))


def test_style_distance_averages_to_the_style_loss_on_a_feature_net():
    net = FeatureNet({"digit": 10}, width=4, hidden=8).eval()
    a, b = pairs_in(-1.0, 1.0, n=6, seed=3, size=32)
    a, b = a.float(), b.float()
    per_image = style_distance(a, b, net, batch_size=4)
    with torch.no_grad():
        expected = float(style_loss(net.features(a), net.features(b)))
    assert abs(float(per_image.mean()) - expected) < 1e-5 * expected
    with pytest.raises(ValueError, match="one shape"):
        style_distance(a, b[:5], net)


# ----------------------------------------------------------------------------- inside a hole


def holes(n=4, size=16, seed=0):
    """Masks (n, 1, size, size): a rectangle in each, of another size and place."""
    mask = torch.zeros(n, 1, size, size, dtype=torch.float64)
    for i in range(n):
        mask[i, 0, i + 1:i + 6, 2 * i:2 * i + 4 + i] = 1
    return mask


def test_the_full_ssim_map_is_skimages():
    a, b = pairs_in(0.0, 1.0, size=12)
    ours = ssim_map(a, b, full=True)  # (N, C, 12, 12), mirrored borders
    for i in range(len(a)):
        _, ref = structural_similarity(a[i].numpy(), b[i].numpy(), channel_axis=0, data_range=1.0, full=True)
        assert ours.shape[1:] == ref.shape
        assert float((ours[i] - torch.from_numpy(ref)).abs().max()) < 1e-10
    assert float(ours.std()) > 0.05  # a map, not a constant


def test_hole_ssim_is_skimages_full_map_averaged_over_the_hole():
    a, b = pairs_in(0.0, 1.0)
    mask = holes()
    ours = hole_ssim(a, b, mask)
    for i in range(len(a)):
        _, ref = structural_similarity(a[i].numpy(), b[i].numpy(), channel_axis=0, data_range=1.0, full=True)
        hole = mask[i, 0].bool().numpy()
        assert abs(float(ours[i]) - ref[:, hole].mean()) < 1e-6
    # only the hole counts: changing a known pixel far from it changes nothing
    far = b.clone()
    far[:, :, -1, -1] = 1 - far[:, :, -1, -1]
    assert torch.equal(hole_ssim(a, far, mask), ours)
    assert torch.equal(hole_ssim(a, a, mask), torch.ones(len(a)))


def test_hole_psnr_by_hand():
    a, b = pairs_in(-1.0, 1.0)
    mask = holes()
    ours = hole_psnr(a, b, mask, data_range=2.0)
    for i in range(len(a)):
        hole = mask[i, 0].bool()
        diff = (a[i][:, hole] - b[i][:, hole]).numpy()  # (C, pixels in the hole)
        assert abs(float(ours[i]) - 10 * np.log10(4.0 / (diff**2).mean())) < 1e-4
    b_outside = torch.where(mask.bool(), a, b)  # equal in the hole, different elsewhere
    assert torch.equal(hole_psnr(a, b_outside, mask, 2.0), torch.full((len(a),), PSNR_CAP))


def test_hole_metrics_refuse_bad_masks():
    a, b = pairs_in(0.0, 1.0)
    mask = holes()
    for metric in (hole_ssim, hole_psnr):
        with pytest.raises(ValueError, match=r"the mask must be \(N, 1, H, W\)"):
            metric(a, b, mask[:, :, :8])
        with pytest.raises(ValueError, match="only 0 .* and 1"):
            metric(a, b, mask * 0.5)
        with pytest.raises(ValueError, match="every image needs a hole"):
            metric(a, b, torch.zeros_like(mask))


def test_perceptual_distances_per_image_average_to_the_batch_distance():
    torch.manual_seed(0)
    net = FeatureNet({"a": 2}, width=4, hidden=8, size=16).eval()
    a, b = (x.float() * 2 - 1 for x in pairs_in(0.0, 1.0))
    each = perceptual_distances(a, b, net, batch_size=3)
    for i in range(len(a)):
        alone = perceptual_distance(a[i:i + 1], b[i:i + 1], net)
        assert abs(float(each[i]) - alone) < 1e-6 * alone
    with torch.no_grad():  # the loss on the whole batch is the mean over its pairs
        batch = float(perceptual_loss(net.features(a), net.features(b)))
    assert abs(batch - float(each.mean())) < 1e-5 * batch
    assert abs(perceptual_distance(a, b, net) - batch) < 1e-5 * batch
