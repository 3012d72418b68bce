"""Tests of the kernel distance (KID) by hand and by its properties; torchmetrics comparisons
are in test_torchmetrics_reference.py."""
import numpy as np
import pytest

from gancore.metrics.kid import (
    KernelDistance,
    cubic_kernel,
    kernel_distance,
    unbiased_mmd2,
)


def test_cubic_kernel_and_unbiased_mmd2_by_hand():
    # F = 1, k(x, y) = (x y + 1)^3. Real {1, -1}: k(1, -1) = 0, so the real term is 0.
    # Fake {2, 2}: k(2, 2) = 125 off the diagonal, term (125 + 125) / 2 = 125.
    # Cross: k(1, 2) = 27 twice, k(-1, 2) = -1 twice: 2 * 52 / 4 = 26.  MMD_u^2 = 0 + 125 - 26 = 99.
    real, fake = np.array([[1.0], [-1.0]]), np.array([[2.0], [2.0]])
    assert cubic_kernel(real, fake).tolist() == [[27.0, 27.0], [-1.0, -1.0]]
    assert unbiased_mmd2(real, fake) == 99.0
    assert kernel_distance(real, fake, n_subsets=3, subset_size=2) == KernelDistance(99.0, 0.0)


def test_cubic_kernel_divides_by_the_feature_size():
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[3.0, 0.0, 1.0]])
    assert cubic_kernel(a, b)[0, 0] == pytest.approx((6 / 3 + 1) ** 3, rel=1e-15)  # 27


def test_two_samples_of_one_distribution_score_about_zero_and_a_shift_does_not():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((600, 8)), rng.standard_normal((600, 8))
    same = kernel_distance(a, b, n_subsets=30, subset_size=200)
    shifted = kernel_distance(a, b + 0.5, n_subsets=30, subset_size=200)
    # unbiased: keeping the diagonals k(x, x) would add about 0.08 here, 4x the subsets' std
    assert abs(same.mean) < 3 * same.std / np.sqrt(30)
    assert shifted.mean > 20 * max(same.std, abs(same.mean))
    # the shift's exact full-sample value, with a quick independent double sum
    k = lambda x, y: (x @ y.T / 8 + 1) ** 3  # noqa: E731
    m = len(a)
    full = ((k(a, a).sum() - np.trace(k(a, a))) / (m * (m - 1)) + (k(b + 0.5, b + 0.5).sum()
            - np.trace(k(b + 0.5, b + 0.5))) / (m * (m - 1)) - 2 * k(a, b + 0.5).mean())
    assert kernel_distance(a, b + 0.5, n_subsets=1, subset_size=600).mean == pytest.approx(full, rel=1e-12)
    assert abs(shifted.mean - full) < 4 * shifted.std / np.sqrt(30)


def test_kernel_distance_is_seeded():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((300, 4)), rng.standard_normal((200, 4)) + 0.2
    first = kernel_distance(a, b, n_subsets=5, subset_size=50, seed=3)
    assert first == kernel_distance(a, b, n_subsets=5, subset_size=50, seed=3)
    other = kernel_distance(a, b, n_subsets=5, subset_size=50, seed=4)
    assert other.mean != first.mean and first.std > 0


def test_kernel_distance_refuses_a_subset_larger_than_the_sample_and_bad_counts():
    a, b = np.zeros((30, 3)), np.ones((20, 3))
    with pytest.raises(ValueError, match=r"subset_size=21 is larger than the sample \(30 real, 20 fake"
                                         r".*pass subset_size <= 20"):
        kernel_distance(a, b, subset_size=21)
    with pytest.raises(ValueError, match="subset_size <= 20"):
        kernel_distance(a, b)  # the default 1000
    with pytest.raises(ValueError, match="n_subsets must be an integer >= 1"):
        kernel_distance(a, b, n_subsets=0, subset_size=10)
    with pytest.raises(ValueError, match="subset_size must be an integer >= 2"):
        kernel_distance(a, b, subset_size=1)
