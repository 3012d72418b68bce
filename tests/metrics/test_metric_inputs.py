"""What the metrics do with awkward inputs: few samples for FD, huge features for KID, numpy
numbers as arguments, numpy arrays and empty batches where tensors belong."""
import warnings

import numpy as np
import pytest
import torch

from gancore.metrics.distribution import SmallSampleWarning, frechet_distance
from gancore.metrics.kid import kernel_distance
from gancore.metrics.memorisation import memorisation_check, nearest_neighbours
from gancore.metrics.per_image import hole_psnr, psnr, ssim
from gancore.metrics.prdc import kth_neighbour_distances, precision_recall_density_coverage


def features(n, dims=8, seed=0, scale=1.0):
    return np.random.default_rng(seed).normal(size=(n, dims)) * scale


def test_fd_from_fewer_samples_than_feature_dims_warns_and_enough_does_not():
    with pytest.warns(SmallSampleWarning, match=r"5 and 40 samples of 8 features.*at least 9 samples"):
        frechet_distance(features(5), features(40, seed=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fd = frechet_distance(features(40), features(40, seed=1))
    assert 0 < fd < 5


def test_kid_on_huge_features_is_one_clear_error_not_a_silent_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        with pytest.raises(ValueError, match=r"KID overflowed float64.*as large as .*Scale both feature sets"):
            kernel_distance(features(20, scale=1e110), features(20, seed=1, scale=1e110), n_subsets=2,
                            subset_size=10)
    fine = kernel_distance(features(20, scale=1e3), features(20, seed=1, scale=1e3), n_subsets=2, subset_size=10)
    assert np.isfinite(fine.mean)


def test_numpy_integers_are_accepted_as_counts_and_ranges():
    real, fake = features(30), features(30, seed=1)
    assert kernel_distance(real, fake, n_subsets=np.int64(3), subset_size=np.int64(10)) == \
        kernel_distance(real, fake, n_subsets=3, subset_size=10)
    assert precision_recall_density_coverage(real, fake, k=np.int32(3)) == \
        precision_recall_density_coverage(real, fake, k=3)
    assert np.array_equal(kth_neighbour_distances(real, np.int64(2)), kth_neighbour_distances(real, 2))
    a, b = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    for data_range in (np.int64(1), np.float32(1.0), np.float64(1.0)):
        assert torch.equal(psnr(a, b, data_range), psnr(a, b, 1.0))
        assert torch.equal(ssim(a, b, data_range, win_size=np.int64(3)), ssim(a, b, 1.0, win_size=3))
    samples, train = torch.rand(6, 1, 4, 4), torch.rand(10, 1, 4, 4)
    assert memorisation_check(samples, train, torch.rand(5, 1, 4, 4), k=np.int64(2))["closest"] == \
        memorisation_check(samples, train, torch.rand(5, 1, 4, 4), k=2)["closest"]
    with pytest.raises(ValueError, match="k must be an integer"):
        precision_recall_density_coverage(real, fake, k=True)


@pytest.mark.parametrize("call", [
    lambda a, b: ssim(a, b), lambda a, b: psnr(a, b),
    lambda a, b: hole_psnr(a, b, torch.ones(2, 1, 8, 8)),
    lambda a, b: memorisation_check(a, b, b), lambda a, b: nearest_neighbours(a, b)])
def test_numpy_arrays_and_empty_batches_get_one_clear_error(call):
    a, b = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"a|queries|samples must be a torch tensor, got a numpy.ndarray.*"
                                         r"torch.from_numpy"):
        call(a.numpy(), b)
    with pytest.raises(ValueError, match=r"is an empty batch \(shape \(0, 1, 8, 8\)\); measure at least one"):
        call(a[:0], b[:0])
