"""Per-image comparisons of an output with its target: SSIM, PSNR, perceptual and style distance,
and SSIM and PSNR inside a hole (image repair).

SSIM and PSNR take ``data_range``, the width of the images' value range (1 for
[0, 1], 2 for [-1, 1], 255 for 0..255), and match scikit-image's
``structural_similarity`` / ``peak_signal_noise_ratio`` given the same value.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.losses import gram_matrix
from gancore.nets.feature import FeatureNet

PSNR_CAP = 100.0  # dB; identical images would give +inf, which JSON cannot hold


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def check_batch(x, name: str) -> None:
    """ValueError unless ``x`` is a torch tensor with at least one image (or row) in it."""
    if not isinstance(x, Tensor):
        hint = f": torch.from_numpy({name})" if isinstance(x, np.ndarray) else ""
        raise ValueError(f"{name} must be a torch tensor, got a {type(x).__module__}.{type(x).__name__}; "
                         f"convert it first{hint}")
    if x.dim() == 0 or len(x) == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(x.shape)}); measure at least one image")


def is_number(value) -> bool:
    """A real number: Python's or numpy's, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_pair(a: Tensor, b: Tensor) -> None:
    check_batch(a, "a")
    check_batch(b, "b")
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"need two image batches (N, C, H, W) of one shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")


def _check_finite(a: Tensor, b: Tensor) -> None:
    for name, x in (("a", a), ("b", b)):
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"images {name} hold NaN or inf: check the model's outputs before measuring")


def _check_values(a: Tensor, b: Tensor, data_range: float) -> float:
    """Finite values whose span fits ``data_range``: 0..255 images declared as [-1, 1]
    (data_range 2) would otherwise give a meaningless SSIM and PSNR without a word."""
    _check_pair(a, b)
    _check_finite(a, b)
    if not (is_number(data_range) and 0 < data_range < float("inf")):
        raise ValueError(f"data_range must be a positive number (1 for [0, 1], 2 for [-1, 1], "
                         f"255 for 0..255), got {data_range!r}")
    low, high = min(float(a.min()), float(b.min())), max(float(a.max()), float(b.max()))
    if high - low > data_range:
        raise ValueError(f"the images' values span [{low:g}, {high:g}], wider than data_range={data_range:g}: "
                         f"pass the width of their value range (1 for [0, 1], 2 for [-1, 1], 255 for 0..255)")
    return float(data_range)


def ssim_map(a: Tensor, b: Tensor, data_range: float = 1.0, win_size: int = 7, k1: float = 0.01,
             k2: float = 0.03, full: bool = False) -> Tensor:
    """The SSIM map (N, C, H', W') of :func:`ssim`, one value per window position (float64).

    ``full=False``: only where the window fits, H' = H - win_size + 1 (what :func:`ssim` averages).
    ``full=True``: one value per pixel, H' = H, the window centred on it and the images extended
    by mirroring at the border (scipy's mode "reflect"): skimage's ``structural_similarity(...,
    full=True)`` map, which :func:`hole_ssim` averages over the hole.
    """
    data_range = _check_values(a, b, data_range)
    if not (isinstance(win_size, numbers.Integral) and not isinstance(win_size, (bool, np.bool_))
            and win_size % 2 == 1 and 1 < win_size <= min(a.shape[2:])):
        raise ValueError(f"win_size must be an odd int > 1 that fits the images, got {win_size!r}")
    win_size = int(win_size)
    a, b = a.double(), b.double()
    n_px = win_size * win_size
    cov_norm = n_px / (n_px - 1)  # unbiased local (co)variances, as skimage
    if full:
        a, b = _symmetric_pad(a, win_size // 2), _symmetric_pad(b, win_size // 2)

    def mean(x):  # (N, C, H - w + 1, W - w + 1), only where the window fits
        return F.avg_pool2d(x, win_size, stride=1)

    mu_a, mu_b = mean(a), mean(b)
    var_a = cov_norm * (mean(a * a) - mu_a**2)
    var_b = cov_norm * (mean(b * b) - mu_b**2)
    cov = cov_norm * (mean(a * b) - mu_a * mu_b)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def _symmetric_pad(x: Tensor, r: int) -> Tensor:
    """Pad H and W by ``r`` mirroring with the edge pixel repeated (d c b a | a b c d | d c b a),
    scipy.ndimage's "reflect"; torch's own "reflect" leaves the edge pixel out."""
    x = torch.cat([x[..., :r, :].flip(-2), x, x[..., -r:, :].flip(-2)], dim=-2)
    return torch.cat([x[..., :r].flip(-1), x, x[..., -r:].flip(-1)], dim=-1)


def ssim(a: Tensor, b: Tensor, data_range: float = 1.0, win_size: int = 7, k1: float = 0.01,
         k2: float = 0.03) -> Tensor:
    """Structural similarity per image (N,) of images whose values span at most ``data_range`` L.

    SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)),
    C1 = (k1 L)^2, C2 = (k2 L)^2, with local means and (sample) covariances over a
    ``win_size`` x ``win_size`` uniform window, averaged over the positions
    where the window fits and over channels: skimage's
    ``structural_similarity(data_range=L, channel_axis=0)`` defaults.
    """
    return ssim_map(a, b, data_range, win_size, k1, k2).mean(dim=(1, 2, 3)).float()


def psnr(a: Tensor, b: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image (N,), in dB, of images whose values span at
    most ``data_range`` L: PSNR = 10 log10(L^2 / MSE), capped at :data:`PSNR_CAP` for
    identical images."""
    data_range = _check_values(a, b, data_range)
    mse = ((a.double() - b.double()) ** 2).mean(dim=(1, 2, 3))
    return (10 * torch.log10(data_range**2 / mse)).clamp(max=PSNR_CAP).float()


@torch.no_grad()
def perceptual_distances(a: Tensor, b: Tensor, net: FeatureNet, batch_size: int = 500) -> Tensor:
    """The perceptual loss of each pair (N,), float64:

    d(a_n, b_n) = sum_l mean_{c,h,w} (phi_l(a_n) - phi_l(b_n))^2
    """
    check_batch(a, "a")
    check_batch(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    _check_finite(a, b)
    out = []
    for start in range(0, len(a), batch_size):
        fa = net.features(a[start:start + batch_size].to(net.device))
        fb = net.features(b[start:start + batch_size].to(net.device))
        out.append(sum(((x.double() - y.double()) ** 2).flatten(1).mean(1) for x, y in zip(fa, fb)).cpu())
    return torch.cat(out)


def perceptual_distance(a: Tensor, b: Tensor, net: FeatureNet, batch_size: int = 500) -> float:
    """The perceptual loss between two image sets, paired by index, over all N pairs:

    d(a, b) = sum_l mean (phi_l(a) - phi_l(b))^2 = mean_n :func:`perceptual_distances`
    (every image has the same feature shapes, so the mean over pairs is the one-batch loss)
    """
    return float(perceptual_distances(a, b, net, batch_size).mean())


# --------------------------------------------------------------------------
# Inside a hole: the metrics of image repair
# --------------------------------------------------------------------------


def _check_hole(a: Tensor, mask: Tensor) -> Tensor:
    check_batch(mask, "mask")
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != a.shape[0] or mask.shape[2:] != a.shape[2:]:
        raise ValueError(f"the mask must be (N, 1, H, W) for images {tuple(a.shape)}, got {tuple(mask.shape)}")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("the mask must hold only 0 (known pixel) and 1 (hole)")
    holes = mask.double().sum(dim=(1, 2, 3))  # (N,) hole pixels per image
    if bool((holes == 0).any()):
        raise ValueError("every image needs a hole (a mask with at least one 1) to be measured inside it")
    return mask.double()


def hole_ssim(a: Tensor, b: Tensor, mask: Tensor, data_range: float = 1.0, win_size: int = 7) -> Tensor:
    """SSIM inside the hole, per image (N,): the full SSIM map (:func:`ssim_map` with
    ``full=True``, a window centred on every pixel) averaged over the hole's pixels and channels,

        SSIM_hole = sum_{c,p} m_p S_c(p) / (C sum_p m_p),      m = 1 in the hole.

    Windows at the hole's edge also see known pixels (equal in a repair and its target)."""
    _check_pair(a, b)
    m = _check_hole(a, mask)
    s = ssim_map(a, b, data_range, win_size, full=True)  # (N, C, H, W)
    return ((s * m).sum(dim=(1, 2, 3)) / (a.shape[1] * m.sum(dim=(1, 2, 3)))).float()


def hole_psnr(a: Tensor, b: Tensor, mask: Tensor, data_range: float = 1.0) -> Tensor:
    """PSNR on the hole's pixels alone, per image (N,), in dB, capped at :data:`PSNR_CAP`:

        PSNR_hole = 10 log10(L^2 / MSE_hole),   MSE_hole = sum_{c,p} m_p (a - b)^2 / (C sum_p m_p)
    """
    data_range = _check_values(a, b, data_range)
    m = _check_hole(a, mask)
    mse = (((a.double() - b.double()) ** 2) * m).sum(dim=(1, 2, 3)) / (a.shape[1] * m.sum(dim=(1, 2, 3)))
    return (10 * torch.log10(data_range**2 / mse)).clamp(max=PSNR_CAP).float()


@torch.no_grad()
def style_distance(a: Tensor, b: Tensor, net: FeatureNet, batch_size: int = 500) -> Tensor:
    """Gram-matrix style distance per image pair (N,), on ``net``'s feature layers:

    d(a_n, b_n) = sum_l mean_{c,c'} (G_l(a_n) - G_l(b_n))[c, c']^2,
    G_l(x)[c, c'] = sum_{h,w} phi_l(x)[c, h, w] phi_l(x)[c', h, w] / (C_l H_l W_l)

    (:func:`gancore.losses.gram_matrix`). The Gram matrix forgets where a feature
    fires, so this compares texture, colour and stroke, not layout; its mean over
    the pairs is :func:`gancore.losses.style_loss` of the two batches.
    """
    _check_pair(a, b)
    _check_finite(a, b)
    out = []
    for start in range(0, len(a), batch_size):
        fa = net.features(a[start:start + batch_size].to(net.device))
        fb = net.features(b[start:start + batch_size].to(net.device))
        out.append(sum(((gram_matrix(x.double()) - gram_matrix(y.double())) ** 2).mean(dim=(1, 2))
                       for x, y in zip(fa, fb)).cpu())
    return torch.cat(out).float()
