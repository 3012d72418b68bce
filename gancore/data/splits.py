"""One fixed partition of a training split: digits for measuring networks, digits for experiments.

A measuring stick must not have seen the answers. gancore's digit classifier
(:mod:`gancore.metrics.classifier`) and the style grader judge what the notebooks
train, against real references the notebooks also draw; if the stick was trained on
those references or on the generator's training images, its features favour them.
So every training split is cut once, by class, into

    measure     MEASURE_FRACTION of each class: for the networks that measure, only
    experiment  the rest: what the notebooks train on and hold out as references

    measure = partition(load_mnist(), "measure")       # 1,500 of the 5,000 offline digits
    experiment = partition(load_mnist(), "experiment")  # the other 3,500

The cut uses its own fixed seed, never a notebook's, so the cached classifier
stays valid whatever seed a notebook runs with. :func:`count_shared` and
:func:`overlaps` check disjointness by pixels, which also catches a copy of an
image under another index.
"""
from __future__ import annotations

import logging

import torch
from torch import Tensor

from gancore.data.sources import ImageSplit

log = logging.getLogger("gancore")

PARTS = ("measure", "experiment")
MEASURE_FRACTION = 0.3  # 150 of each class's 500 offline digits; 18,000 of full MNIST's 60,000
PARTITION_SEED = 1_000_003  # fixed: not a notebook's seed, so measuring nets stay cached across seeds


def partition_indices(labels: Tensor, measure_fraction: float = MEASURE_FRACTION,
                      seed: int = PARTITION_SEED) -> dict[str, Tensor]:
    """Indices (sorted) of the ``measure`` and ``experiment`` parts: from each class, a seeded
    random ``round(measure_fraction * count)`` for measure, the rest for experiment."""
    if not 0 < measure_fraction < 1:
        raise ValueError(f"measure_fraction must be in (0, 1), got {measure_fraction}")
    labels = torch.as_tensor(labels).long()
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    order = perm[torch.argsort(labels[perm], stable=True)]  # grouped by class, random within each
    _, counts = torch.unique(labels, return_counts=True)
    rank = torch.arange(len(labels)) - (torch.cumsum(counts, 0) - counts).repeat_interleave(counts)
    n_measure = (counts.double() * measure_fraction).round().long()
    is_measure = rank < n_measure.repeat_interleave(counts)
    return {"measure": order[is_measure].sort().values, "experiment": order[~is_measure].sort().values}


def partition(split: ImageSplit, part: str) -> ImageSplit:
    """The ``part`` ('measure' or 'experiment') of ``split``, in the split's order; its source says which."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose one of: {', '.join(PARTS)}")
    idx = partition_indices(split.labels)[part]
    source = f"{split.source}; {part} part, {len(idx):,} of {len(split):,} (gancore.data.splits)"
    log.info("%s part: %d of %d images", part, len(idx), len(split))
    return ImageSplit(split.images[idx], split.labels[idx], source)


def count_shared(images: Tensor, others: Tensor) -> int:
    """How many of ``images`` have exactly the pixels of some image in ``others``."""
    seen = {image.numpy().tobytes() for image in others.detach().cpu()}
    return sum(image.numpy().tobytes() in seen for image in images.detach().cpu())


def overlaps(parts: dict[str, Tensor]) -> dict[tuple[str, str], int]:
    """For every pair of named image sets, :func:`count_shared` of the first in the second;
    all 0 when the sets are pairwise disjoint."""
    names = list(parts)
    return {(a, b): count_shared(parts[a], parts[b]) for i, a in enumerate(names) for b in names[i + 1:]}
