"""SSIM and PSNR over other value ranges against scikit-image, the Gram-matrix style distance,
and the per-image metrics' refusal of bad images. (The [0, 1] scikit-image comparisons are in
tests/experiments/test_style_transfer.py.)"""
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gancore.losses import style_loss
from gancore.metrics.per_image import perceptual_distance, psnr, ssim, style_distance
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
