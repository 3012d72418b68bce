"""Memorisation check on a hand-made case, against scipy's brute-force distances."""
import pytest
import torch
from scipy.spatial.distance import cdist

from gancore.metrics.memorisation import memorisation_check, nearest_neighbours


def test_nearest_neighbours_match_scipy_in_blocks():
    torch.manual_seed(0)
    queries, refs = torch.randn(37, 1, 4, 4), torch.randn(23, 1, 4, 4)
    d, idx = nearest_neighbours(queries, refs, block=5)  # blocks of 5, the last of 2
    full = cdist(queries.flatten(1).double().numpy(), refs.flatten(1).double().numpy())
    assert torch.allclose(d, torch.from_numpy(full.min(1)), atol=1e-9, rtol=0)
    assert idx.tolist() == full.argmin(1).tolist()
    with pytest.raises(ValueError, match="differ in image shape"):
        nearest_neighbours(queries, refs[:, :, :2])


def test_copies_of_training_images_are_found_and_counted():
    torch.manual_seed(1)
    train = torch.rand(30, 1, 6, 6) * 2 - 1
    test = torch.rand(40, 1, 6, 6) * 2 - 1  # fresh images: the yardstick
    samples = torch.rand(20, 1, 6, 6) * 2 - 1
    copied = {3: 7, 11: 0, 16: 29}  # sample -> training image it copies (plus a little noise)
    for s, t in copied.items():
        samples[s] = train[t] + 0.01 * torch.randn(1, 6, 6)
    report = memorisation_check(samples, train, test, k=3)
    assert sorted(report["closest"]) == sorted(copied)
    assert all(copied[s] == t for s, t in zip(report["closest"], report["closest_train"]))
    assert max(report["closest_distance"]) < 0.2
    assert report["near_copies"] == pytest.approx(3 / 20)  # the fresh samples sit no nearer than test digits
    assert report["nn_ratio"] == pytest.approx(report["sample_nn_median"] / report["test_nn_median"])
    assert 0.7 < report["nn_ratio"] < 1.3  # most samples are fresh, like the test images

    all_copies = train[torch.arange(20) % 30] + 0.01 * torch.randn(20, 1, 6, 6)
    memorised = memorisation_check(all_copies, train, test)
    assert memorised["near_copies"] == 1.0 and memorised["nn_ratio"] < 0.05
    assert len(memorised["closest"]) == 8
    with pytest.raises(ValueError, match="k must be >= 1"):
        memorisation_check(samples, train, test, k=0)
