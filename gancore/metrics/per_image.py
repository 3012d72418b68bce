"""Per-image comparisons of an output with its target: SSIM, PSNR, perceptual distance.

SSIM and PSNR take images in [0, 1] and match scikit-image's
``structural_similarity`` / ``peak_signal_noise_ratio`` with ``data_range=1``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.losses import perceptual_loss
from gancore.nets.feature import FeatureNet

PSNR_CAP = 100.0  # dB; identical images would give +inf, which JSON cannot hold


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"need two image batches (N, C, H, W) of one shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")


def ssim(a: Tensor, b: Tensor, win_size: int = 7, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Structural similarity per image (N,), of images in [0, 1] (data range 1).

    SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)),
    C1 = k1^2, C2 = k2^2, with local means and (sample) covariances over a
    ``win_size`` x ``win_size`` uniform window, averaged over the positions
    where the window fits and over channels: skimage's
    ``structural_similarity(data_range=1, channel_axis=0)`` defaults.
    """
    _check_pair(a, b)
    a, b = a.double(), b.double()
    n_px = win_size * win_size
    cov_norm = n_px / (n_px - 1)  # unbiased local (co)variances, as skimage

    def mean(x):  # (N, C, H - w + 1, W - w + 1), only where the window fits
        return F.avg_pool2d(x, win_size, stride=1)

    mu_a, mu_b = mean(a), mean(b)
    var_a = cov_norm * (mean(a * a) - mu_a**2)
    var_b = cov_norm * (mean(b * b) - mu_b**2)
    cov = cov_norm * (mean(a * b) - mu_a * mu_b)
    c1, c2 = k1**2, k2**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3)).float()


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Peak signal-to-noise ratio per image (N,), in dB, of images in [0, 1]:
    PSNR = 10 log10(1 / MSE), capped at :data:`PSNR_CAP` for identical images."""
    _check_pair(a, b)
    mse = ((a.double() - b.double()) ** 2).mean(dim=(1, 2, 3))
    return (10 * torch.log10(1 / mse)).clamp(max=PSNR_CAP).float()


@torch.no_grad()
def perceptual_distance(a: Tensor, b: Tensor, net: FeatureNet, batch_size: int = 500) -> float:
    """The perceptual loss between two image sets, paired by index, over all N pairs:

    d(a, b) = sum_l mean (phi_l(a) - phi_l(b))^2   (batched; equals one pass over all N)
    """
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    total = 0.0
    for start in range(0, len(a), batch_size):
        fa = net.features(a[start:start + batch_size].to(net.device))
        fb = net.features(b[start:start + batch_size].to(net.device))
        total += float(perceptual_loss(fa, fb)) * len(fa[0])
    return total / len(a)
