"""Kernel distance (KID, Bińkowski et al. 2018) between two feature sets (N, F).

    k(x, y) = (x.y / F + 1)^3
    MMD_u^2 = sum_{i != j} k(x_i, x_j) / (m(m-1)) + sum_{i != j} k(y_i, y_j) / (m(m-1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2

over ``n_subsets`` random subsets of ``m = subset_size`` real and ``m`` fake
features, reported as the mean and the (population) standard deviation of the
subsets' values. Unlike the Fréchet distance it is unbiased: two samples of one
distribution score about 0, and may score slightly below it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gancore.metrics.distribution import feature_pair, is_integer, one_blas_thread


class KernelDistance(NamedTuple):
    """KID's mean and standard deviation over the random subsets."""

    mean: float
    std: float


def cubic_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """k(a_i, b_j) = (a_i . b_j / F + 1)^3 for features a (n, F), b (m, F): (n, m)."""
    k = a @ b.T / a.shape[1] + 1.0
    return k * k * k  # faster than k ** 3, for which numpy calls its general pow


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """MMD_u^2 of two feature sets of one size m with the cubic kernel (module doc).

    The diagonals k(x_i, x_i) are left out of the within-set sums: with them the
    estimate is biased upwards by about (E k(x, x) - E k(x, x')) / m.
    """
    m = len(x)
    k_xx, k_yy, k_xy = cubic_kernel(x, x), cubic_kernel(y, y), cubic_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / m**2)


def kernel_distance(real, fake, n_subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> KernelDistance:
    """KID of ``real`` and ``fake`` features (N, F): mean and std of MMD_u^2 over subsets.

    Each of the ``n_subsets`` subsets draws ``subset_size`` rows of each set
    without replacement, from ``numpy.random.default_rng(seed)``: the same seed
    gives the same number. ``subset_size`` may be at most the smaller sample
    size; with ``n_subsets=1`` and ``subset_size`` = N (equal sizes) it is the
    full-sample estimate, and the std is 0.
    """
    real, fake = feature_pair(real, fake)
    if not (is_integer(n_subsets) and n_subsets >= 1):
        raise ValueError(f"n_subsets must be an integer >= 1, got {n_subsets!r}")
    if not (is_integer(subset_size) and subset_size >= 2):
        raise ValueError(f"subset_size must be an integer >= 2, got {subset_size!r}")
    n_subsets, subset_size = int(n_subsets), int(subset_size)
    smaller = min(len(real), len(fake))
    if subset_size > smaller:
        raise ValueError(f"subset_size={subset_size} is larger than the sample ({len(real)} real, "
                         f"{len(fake)} fake features): pass subset_size <= {smaller}")
    rng = np.random.default_rng(seed)
    with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        values = np.array([unbiased_mmd2(real[rng.choice(len(real), subset_size, replace=False)],
                                         fake[rng.choice(len(fake), subset_size, replace=False)])
                           for _ in range(n_subsets)])
    if not np.isfinite(values).all():
        largest = max(np.abs(real).max(), np.abs(fake).max())
        raise ValueError(f"KID overflowed float64: the cubic kernel (x.y / F + 1)^3 of features as large as "
                         f"{largest:.3g} exceeds 1e308. Scale both feature sets alike first (divide them by "
                         "the real features' std), or check the feature extractor")
    return KernelDistance(float(values.mean()), float(values.std()))
