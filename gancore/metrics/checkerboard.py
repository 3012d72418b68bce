"""Periodic artefacts: how much of an image's energy sits at an up-sampler's stride frequencies.

A transposed convolution of stride 2 overlaps its kernel unevenly, so every other pixel gets
more of it and the output carries a grid of period 2 (and 4 after two of them): a checkerboard
(Odena et al. 2016). In the Fourier domain that grid is energy at frequencies k = n / p (and
n - k) for the periods p, along either axis:

    stride_energy(x) = sum_{(u, v) in S} |X(u, v)|^2 / sum_{(u, v) != (0, 0)} |X(u, v)|^2,
    S = {(u, v) != (0, 0): u in {0, H/p, H - H/p}, v in {0, W/p, W - W/p}, p in periods}

with X the 2-D DFT of the image's luminance. ``checkerboard_score(outputs, targets)`` is the
median over image pairs of the output's stride energy over its target's: 1 is as periodic as
the truth (some filters, a halftone screen, are periodic themselves), above 1 is a grid the
generator added. The median, because a few periodic targets would rule a ratio of means.
"""
from __future__ import annotations

import torch
from torch import Tensor

LUMA = (0.299, 0.587, 0.114)
STRIDE_PERIODS: tuple[int, ...] = (2, 4)  # px: the periods two stride-2 up-samplings leave


def _frequencies(n: int, periods) -> list[int]:
    bins = {0}
    for p in periods:
        if n % p:
            raise ValueError(f"an image side of {n} px is not a multiple of the period {p} px; crop it")
        bins |= {n // p, (n - n // p) % n}
    return sorted(bins)


def stride_energy(images: Tensor, periods=STRIDE_PERIODS) -> Tensor:
    """(N,) share of each image's non-constant spectral energy at the stride frequencies
    (module docstring), for (N, 1 or 3, H, W) images in any range."""
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3) or len(images) == 0:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a non-empty (N, 1 or 3, H, W) tensor, got {shape}")
    x = images.double()
    if x.shape[1] == 3:
        x = (x * torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    power = torch.fft.fft2(x[:, 0]).abs() ** 2  # (N, H, W)
    power[:, 0, 0] = 0  # the mean says nothing about a pattern
    rows = _frequencies(x.shape[2], periods)
    cols = _frequencies(x.shape[3], periods)
    at_stride = power[:, rows][:, :, cols].sum(dim=(1, 2))
    total = power.sum(dim=(1, 2)).clamp_min(1e-12)
    return at_stride / total


def checkerboard_score(outputs: Tensor, targets: Tensor, periods=STRIDE_PERIODS) -> float:
    """median over pairs of stride_energy(output) / stride_energy(target): above 1, the outputs
    carry a periodic grid that their targets do not."""
    if outputs.shape != targets.shape:
        raise ValueError(f"outputs {tuple(outputs.shape)} and targets {tuple(targets.shape)} differ in shape")
    ratio = stride_energy(outputs, periods) / stride_energy(targets, periods).clamp_min(1e-12)
    return float(ratio.median())
