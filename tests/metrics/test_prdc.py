"""Precision, recall, density and coverage against the prdc package (Naeem et al.'s own code),
by hand, and in bounded memory."""
import tracemalloc

import numpy as np
import pytest
from prdc import compute_prdc

from gancore.metrics.prdc import (
    PRDC,
    kth_neighbour_distances,
    precision_recall_density_coverage,
)


def feature_sets(n_real=400, n_fake=300, dim=10, seed=0):
    """Reals from N(0, I); fakes narrower and shifted, so no metric sits at 0 or 1."""
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n_real, dim))
    fake = 0.7 * rng.standard_normal((n_fake, dim)) + 0.4
    return real, fake


@pytest.mark.parametrize("k", [1, 5, 12])
def test_prdc_equals_the_prdc_package(k):
    real, fake = feature_sets()
    expected = compute_prdc(real, fake, nearest_k=k)
    ours = precision_recall_density_coverage(real, fake, k=k)
    for name in PRDC._fields:
        assert abs(getattr(ours, name) - expected[name]) < 1e-9, name
    assert 0.05 < ours.recall < 0.95 and 0.05 < ours.coverage < 0.95  # not trivially 0 or 1


def test_prdc_of_features_far_from_origin_equals_the_prdc_package():
    # ReLU-like features are all positive with large norms, where ||a||^2 + ||b||^2 - 2 a.b cancels
    real, fake = feature_sets(300, 300, dim=16, seed=1)
    real, fake = real + 50.0, fake + 50.0
    expected = compute_prdc(real, fake, nearest_k=5)
    ours = precision_recall_density_coverage(real, fake)
    assert all(abs(getattr(ours, n) - expected[n]) < 1e-9 for n in PRDC._fields)


def test_prdc_does_not_depend_on_the_block_size():
    real, fake = feature_sets(250, 310)
    whole = precision_recall_density_coverage(real, fake, k=3)
    for block_bytes in (1, 8 * 310 * 7, 8 * 250 * 64):  # 1 row, 7 rows, 64 rows per block
        assert precision_recall_density_coverage(real, fake, k=3, block_bytes=block_bytes) == whole


def test_prdc_by_hand_on_a_line():
    # real 0, 1, 2, 3 with k = 1: each radius is 1 (the nearest other real).
    # fakes 0.5 (inside the balls of 0 and 1), 10 (in none), and 2.9 (inside the balls of 2 and 3).
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [10.0], [2.9]])
    np.testing.assert_array_equal(kth_neighbour_distances(real, 1), [1.0, 1.0, 1.0, 1.0])
    ours = precision_recall_density_coverage(real, fake, k=1)
    # fake radii (k = 1): 0.5 -> 2.4, 10 -> 7.1, 2.9 -> 2.4. Every real lies within 2.4 of 0.5 or 2.9.
    # nearest fake: 0 -> 0.5 (0.5 < 1), 1 -> 0.5 (0.5 < 1), 2 -> 2.9 (0.9 < 1), 3 -> 2.9 (0.1 < 1).
    assert ours.precision == pytest.approx(2 / 3, abs=1e-15)
    assert ours.recall == 1.0
    assert ours.density == pytest.approx((2 + 0 + 2) / (1 * 3), abs=1e-15)
    assert ours.coverage == 1.0


def test_prdc_stays_within_its_memory_blocks():
    # 2,000 x 2,000 float64 distances would take 32 MB per matrix; 1 MB blocks must keep the
    # peak (numpy's allocations, which tracemalloc sees) at a few blocks.
    real, fake = feature_sets(2000, 2000, dim=8, seed=2)
    tracemalloc.start()
    try:
        precision_recall_density_coverage(real, fake, block_bytes=2**20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 2**20 < peak < 6 * 2**20


def test_prdc_refuses_bad_input():
    real, fake = feature_sets(20, 10)
    with pytest.raises(ValueError, match=r"k must be an integer in 1 \.\. 9"):
        precision_recall_density_coverage(real, fake, k=10)
    with pytest.raises(ValueError, match="k must be"):
        precision_recall_density_coverage(real, fake, k=0)
    with pytest.raises(ValueError, match="feature sizes differ: 10 vs 3"):
        precision_recall_density_coverage(real, fake[:, :3])
    fake[4, 0] = np.nan
    with pytest.raises(ValueError, match="fake features hold NaN or inf"):
        precision_recall_density_coverage(real, fake, k=2)
