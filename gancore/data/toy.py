"""2-D mixtures of Gaussians: the classic test bed for mode collapse.

A ring of 8 Gaussians (Metz et al. 2017, "Unrolled GANs") and a 5x5 grid
(Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN) have known modes,
so "how many modes did the generator find?" has an exact answer
(:func:`gancore.metrics.modes.mode_coverage`).

    centres, std = ring_of_gaussians()               # (8, 2) centres, std 0.02
    real = sample_mixture(centres, std, 50_000, torch.Generator().manual_seed(0))  # (50000, 2)
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor


class Mixture(NamedTuple):
    """Equal-weight isotropic Gaussians. Unpacks as ``centres, std = mixture``."""

    centres: Tensor  # (K, 2)
    std: float


def ring_of_gaussians(n_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> Mixture:
    """``n_modes`` Gaussians evenly spaced on a circle of ``radius``, the first at (radius, 0).

    The defaults are the ring of Unrolled GANs (PacGAN uses radius 1, std 0.01)."""
    if n_modes < 1 or radius <= 0 or std <= 0:
        raise ValueError(f"need n_modes >= 1, radius > 0 and std > 0; got {n_modes}, {radius}, {std}")
    angle = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)  # (K, 2)
    return Mixture(centres.float(), float(std))


def grid_of_gaussians(side: int = 5, spacing: float = 2.0, std: float = 0.02) -> Mixture:
    """``side`` x ``side`` Gaussians on a square grid centred at the origin
    (side=5, spacing=2 puts the centres at -4, -2, 0, 2, 4 on each axis; PacGAN's
    grid has these centres and std 0.05)."""
    if side < 1 or spacing <= 0 or std <= 0:
        raise ValueError(f"need side >= 1, spacing > 0 and std > 0; got {side}, {spacing}, {std}")
    axis = spacing * (torch.arange(side, dtype=torch.float32) - (side - 1) / 2)  # (side,)
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return Mixture(torch.stack([xs.flatten(), ys.flatten()], dim=1), float(std))  # (side^2, 2)


def sample_mixture(centres: Tensor, std: float, n: int,
                   generator: torch.Generator | None = None) -> Tensor:
    """``n`` points (n, 2): a mode uniformly at random, plus N(0, std^2 I) noise."""
    centres = torch.as_tensor(centres, dtype=torch.float32)
    if centres.dim() != 2 or len(centres) == 0:
        raise ValueError(f"centres must have shape (K, D) with K >= 1, got {tuple(centres.shape)}")
    if n < 1 or not std > 0:
        raise ValueError(f"need n >= 1 and std > 0, got n={n}, std={std}")
    mode = torch.randint(len(centres), (n,), generator=generator)  # (n,)
    noise = torch.randn(n, centres.shape[1], generator=generator)  # (n, D)
    return centres[mode] + std * noise
