"""Precision, recall, density and coverage of generated features (Naeem et al. 2020).

With r_i the distance from real feature x_i to its k-th nearest other real
feature, s_j the same for fake feature y_j among the fakes, and
B(c, r) = {z : ||z - c|| < r}:

    precision = 1/M sum_j [ y_j in some B(x_i, r_i) ]    fakes that look real
    recall    = 1/N sum_i [ x_i in some B(y_j, s_j) ]    reals the fakes reach
    density   = 1/(kM) sum_j sum_i [ y_j in B(x_i, r_i) ] how many real balls hold a fake, /k
    coverage  = 1/N sum_i [ the nearest fake to x_i lies in B(x_i, r_i) ]

Precision and density measure fidelity, recall and coverage diversity; all but
density lie in [0, 1], and density is about 1 when the fakes are distributed as
the reals. The distances are computed block by block, so N x M never has to fit
in memory at once: 10,000 x 10,000 in float64 would be 800 MB per matrix.
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

from gancore.metrics.distribution import feature_matrix, feature_pair, is_integer, one_blas_thread

BLOCK_BYTES = 32 * 2**20  # one float64 distance block; the peak is a few such blocks


class PRDC(NamedTuple):
    precision: float
    recall: float
    density: float
    coverage: float


def _row_blocks(n_rows: int, n_cols: int, block_bytes: int) -> Iterator[slice]:
    """Slices of rows such that a (rows, n_cols) float64 block stays within block_bytes."""
    rows = max(1, block_bytes // (8 * n_cols))
    for start in range(0, n_rows, rows):
        yield slice(start, min(start + rows, n_rows))


def _squared_distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(a), len(b)) as ||a||^2 + ||b||^2 - 2 a.b: one BLAS
    product, then in place, so the block is the only (len(a), len(b)) array allocated.

    Balls are compared in squared distances (d < r iff d^2 < r^2), which saves a square
    root per pair. Round-off can make a squared distance slightly negative: that is a
    distance of 0 (not a clamped metric value), so it is set to 0.
    """
    sq = a @ b.T
    sq *= -2.0
    sq += (a * a).sum(1)[:, None]
    sq += b_sq[None, :]
    return np.maximum(sq, 0.0, out=sq)


def _kth_neighbour_squared(features: np.ndarray, k: int, block_bytes: int) -> np.ndarray:
    """Squared distance from each row to its k-th nearest other row, (N,), block by block.

    Each row's distance 0 to itself is the smallest, so the k-th nearest other
    row is the (k+1)-th smallest distance: index k after a partial sort.
    """
    sq = (features * features).sum(1)
    radii = np.empty(len(features))
    for rows in _row_blocks(len(features), len(features), block_bytes):
        d = _squared_distances(features[rows], features, sq)
        d[np.arange(d.shape[0]), np.arange(rows.start, rows.stop)] = 0.0  # exactly, not round-off
        radii[rows] = np.partition(d, k, axis=1)[:, k]
    return radii


def kth_neighbour_distances(features, k: int, block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """Distance from each row of ``features`` (N, F) to its k-th nearest other row, (N,)."""
    features = feature_matrix(features)
    if not (is_integer(k) and 1 <= k < len(features)):
        raise ValueError(f"k must be an integer in 1 .. {len(features) - 1}, got {k!r}")
    k = int(k)
    with one_blas_thread():
        return np.sqrt(_kth_neighbour_squared(features, k, block_bytes))


def _balls_against_each_other(real, fake, real_radii_sq, fake_radii_sq, block_bytes):
    """Per fake, how many real balls hold it (M,); per real, whether some fake ball holds it
    and whether its nearest fake lies in its own ball (N,), (N,): one block of reals at a time."""
    fake_sq = (fake * fake).sum(1)
    balls_holding_fake = np.zeros(len(fake), dtype=np.int64)
    real_reached = np.zeros(len(real), dtype=bool)
    real_covered = np.zeros(len(real), dtype=bool)
    for rows in _row_blocks(len(real), len(fake), block_bytes):
        d = _squared_distances(real[rows], fake, fake_sq)  # (block, M)
        balls_holding_fake += (d < real_radii_sq[rows, None]).sum(0)
        real_reached[rows] = (d < fake_radii_sq[None, :]).any(1)
        real_covered[rows] = d.min(1) < real_radii_sq[rows]
    return balls_holding_fake, real_reached, real_covered


def precision_recall_density_coverage(real, fake, k: int = 5, block_bytes: int = BLOCK_BYTES) -> PRDC:
    """Precision, recall, density and coverage (module doc) of ``fake`` against ``real``
    features (N, F) and (M, F), with k nearest neighbours, in float64.

    ``block_bytes`` bounds each block of distances (default 32 MiB); the result
    does not depend on it.
    """
    real, fake = feature_pair(real, fake)
    if not (is_integer(k) and 1 <= k < min(len(real), len(fake))):
        raise ValueError(f"k must be an integer in 1 .. {min(len(real), len(fake)) - 1} "
                         f"(fewer than the {len(real)} real and {len(fake)} fake features), got {k!r}")
    k = int(k)
    # Distances do not change under a shift; centring on the real mean keeps the
    # norms small, so ||a||^2 + ||b||^2 - 2 a.b loses fewer digits to cancellation.
    centre = real.mean(0)
    real, fake = real - centre, fake - centre
    with one_blas_thread():
        real_radii_sq = _kth_neighbour_squared(real, k, block_bytes)
        fake_radii_sq = _kth_neighbour_squared(fake, k, block_bytes)
        balls_holding_fake, real_reached, real_covered = _balls_against_each_other(
            real, fake, real_radii_sq, fake_radii_sq, block_bytes)
    return PRDC(precision=float((balls_holding_fake > 0).mean()),
                recall=float(real_reached.mean()),
                density=float(balls_holding_fake.sum() / (k * len(fake))),
                coverage=float(real_covered.mean()))
