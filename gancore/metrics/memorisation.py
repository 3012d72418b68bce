"""Does G copy its training images? Nearest-training-neighbour distances of samples against those of real
held-out digits, and the samples closest to a training image.

For an image x and the training set T, in pixels (images in [-1, 1], flattened):

    d(x) = min_{t in T} ||x - t||_2

Real digits the GAN never saw give the yardstick: a G that generalises has d(sample) distributed like
d(test digit); one that memorises has many samples far closer to a training image than test digits are.
"""
from __future__ import annotations

import numbers

import torch
from torch import Tensor

from gancore.metrics.per_image import check_batch


def nearest_neighbours(queries: Tensor, references: Tensor, block: int = 1024) -> tuple[Tensor, Tensor]:
    """For each of ``queries`` (Q, ...) the L2 distance to its nearest of ``references`` (R, ...) and that
    one's index: (Q,) float64 and (Q,) int64. ||q - r||^2 = ||q||^2 + ||r||^2 - 2 q.r in float64, in blocks
    of ``block`` queries, so memory stays at block * R numbers."""
    check_batch(queries, "queries")
    check_batch(references, "references")
    if queries.shape[1:] != references.shape[1:]:
        raise ValueError(f"queries {tuple(queries.shape[1:])} and references {tuple(references.shape[1:])} "
                         "differ in image shape")
    if len(references) == 0:
        raise ValueError("no reference images to measure against")
    refs = references.flatten(1).double()  # (R, P)
    ref_sq = (refs ** 2).sum(1)  # (R,)
    distances, indices = [], []
    for start in range(0, len(queries), block):
        q = queries[start:start + block].flatten(1).double().to(refs.device)  # (b, P)
        squared = (q ** 2).sum(1, keepdim=True) + ref_sq - 2 * q @ refs.T  # (b, R)
        best, index = squared.min(1)
        distances.append(best.clamp(min=0).sqrt())
        indices.append(index)
    empty = torch.zeros(0, dtype=torch.float64)
    return (torch.cat(distances) if distances else empty,
            torch.cat(indices) if indices else empty.long())


def memorisation_check(samples: Tensor, train: Tensor, test: Tensor, k: int = 8) -> dict:
    """The nearest-training-neighbour distances of ``samples`` against those of real ``test`` digits
    (none of them in ``train``):

    sample_nn_median, test_nn_median   the medians of d(sample) and d(test digit)
    nn_ratio                           sample_nn_median / test_nn_median (below 1: closer than real digits)
    near_copies                        the fraction of samples with d below the 5th percentile of the test
                                       digits' d (0.05 for a G that samples like the test digits)
    closest, closest_train, closest_distance
                                       the ``k`` samples nearest to a training image (indices into
                                       ``samples``), those images (indices into ``train``) and d
    """
    for name, images in (("samples", samples), ("train", train), ("test", test)):
        check_batch(images, name)
    if not (isinstance(k, numbers.Integral) and not isinstance(k, bool) and k >= 1):
        raise ValueError(f"k must be >= 1, an integer, got {k!r}")
    k = int(k)
    sample_d, sample_idx = nearest_neighbours(samples, train)
    test_d, _ = nearest_neighbours(test, train)
    if len(sample_d) == 0 or len(test_d) == 0:
        raise ValueError("need at least one sample and one test image")
    threshold = torch.quantile(test_d, 0.05)
    order = sample_d.argsort()[:k]
    return {"sample_nn_median": sample_d.median().item(), "test_nn_median": test_d.median().item(),
            "nn_ratio": (sample_d.median() / test_d.median()).item(),
            "near_copies": (sample_d < threshold).double().mean().item(),
            "closest": order.tolist(), "closest_train": sample_idx[order].tolist(),
            "closest_distance": sample_d[order].tolist()}
