"""Feature networks trained here on the style data: one for the losses, one to grade.

No pretrained network (VGG) can be downloaded here, so gancore trains its own
:class:`gancore.nets.feature.FeatureNet`, which predicts a styled image's digit
and every style attribute, so its early layers encode colour, texture and
stroke shape, which is what perceptual and Gram-matrix losses need.

    net = get_feature_net(splits["train"])      # trained once, then loaded from data/
    feats = net.features(images)                # [(B, w, 32, 32), (B, 2w, 16, 16), (B, 4w, 8, 8)]
    accuracy(grader, outputs, data)             # {"digit": ..., "stroke": ..., "style": ...}

Grading a generator with the network it was optimised against is unfair (it
learns to please that network), so outputs are graded by
:func:`get_style_classifier`: another design (:class:`gancore.nets.residual.ResidualFeatureNet`:
residual stages, strided convolutions, average pooling), seed and training set
(:func:`gancore.experiments.style_transfer.grader_training_set`: digits the generator
never sees).
Caches live in ``gancore.paths.data_dir()``, keyed by the config and a
fingerprint of the training images, written atomically and checksummed
(:mod:`gancore.train.net_cache`). A net trains on all its data's targets; its
held-out accuracy per head is measured on the data's exemplars drawn from
digits that are no triple's content (:func:`unseen_exemplars`), and kept.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.nets.feature import FeatureNet, MultiHeadNet
from gancore.nets.residual import ResidualFeatureNet
from gancore.paths import data_dir
from gancore.runtime import as_device
from gancore.train.net_cache import cached_net
from gancore.train.supervised import fit

log = logging.getLogger("gancore")


@dataclass(frozen=True)
class FeatureNetConfig:
    """Architecture and training of one feature network; part of its cache key. ``net_class``
    is the design (:class:`FeatureNet`, VGG-like); :class:`ResidualNetConfig` picks another."""

    net_class: ClassVar[type[MultiHeadNet]] = FeatureNet
    width: int = 16         # channels of the first conv; later layers have 2w, 4w
    hidden: int = 128       # units of the shared fully connected layer before the heads
    epochs: int = 6         # passes over the training images
    batch_size: int = 64
    lr: float = 2e-3        # Adam, cosine-decayed to 0
    seed: int = 0


@dataclass(frozen=True)
class ResidualNetConfig(FeatureNetConfig):
    """A :class:`gancore.nets.residual.ResidualFeatureNet`: residual stages, strided convolutions,
    average pooling. ``design`` puts the design into the cache key."""

    net_class: ClassVar[type[MultiHeadNet]] = ResidualFeatureNet
    design: str = "residual"


LOSS_NET = FeatureNetConfig()  # the features of the perceptual and style losses
# grades outputs, never a loss: another design, seed and training set (the measure part's digits)
GRADER_NET = ResidualNetConfig(width=16, hidden=128, epochs=8, seed=1)  # 8 epochs: the residual net learns slower


def head_labels(data) -> dict[str, Tensor]:
    """The labels of a :class:`gancore.data.digit_styles.StyleTransferSet`'s targets, per head."""
    labels = {"digit": data.digit}
    for i, name in enumerate(data.attributes):
        labels[name] = data.style[:, i]
    return labels


def accuracy(net: MultiHeadNet, images: Tensor, data) -> dict[str, float]:
    """Fraction of ``images`` whose predicted labels match ``data``'s target labels, per head,
    plus ``style``: all style attributes right at once. ``images`` are (N, 3, 32, 32), e.g.
    a generator's outputs for ``data.content`` and ``data.exemplar``, or ``data.target``."""
    predicted, labels = net.predict(images), head_labels(data)
    right = {name: predicted[name] == labels[name].cpu() for name in labels}
    out = {name: float(r.double().mean()) for name, r in right.items()}
    style = torch.stack([right[name] for name in data.attributes]).all(0)
    out["style"] = float(style.double().mean())
    return out


# --------------------------------------------------------------------------
# Training and the cache
# --------------------------------------------------------------------------


def train_feature_net(data, config: FeatureNetConfig = LOSS_NET, device=None,
                      progress: bool = True) -> MultiHeadNet:
    """Train ``config.net_class`` (:class:`FeatureNet` unless the config says otherwise) on
    ``data.target`` to predict every label of
    :func:`head_labels`, with :func:`gancore.train.supervised.fit`.

    L = sum_heads cross_entropy(head(x), label). Deterministic from ``config.seed``;
    the caller's global RNG state is left untouched.
    """
    images, labels = data.target, head_labels(data)
    if "digit" in data.attributes:
        raise ValueError("a style attribute may not be called 'digit': that is the content head")
    # every value of an attribute gets a class, also values that only unseen styles use
    heads = {"digit": int(data.digit.max()) + 1, **{n: len(v) for n, v in data.attributes.items()}}
    c, s = images.shape[1], images.shape[-1]
    cfg = config

    def loss(logits: dict[str, Tensor], y: dict[str, Tensor]) -> Tensor:
        return sum(F.cross_entropy(logits[n], y[n]) for n in heads)

    return fit(lambda: cfg.net_class(heads, cfg.width, cfg.hidden, channels=c, size=s), images, labels, loss,
               epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
               device=device, progress=progress, desc="feature net")


def unseen_exemplars(data):
    """``data``'s triples turned around, the exemplar as target, kept only where the exemplar's
    plain image is no triple's content: drawings a net trained on ``data.target`` never saw in
    any style, rendered in styles it was trained on; its held-out set. None when there is none
    (every pool image is some content) or ``data`` lacks the exemplars' plain images or labels."""
    if data.exemplar_content is None or data.exemplar_digit is None:
        return None
    seen = {image.numpy().tobytes() for image in data.content.cpu()}
    unseen = torch.tensor([image.numpy().tobytes() not in seen for image in data.exemplar_content.cpu()])
    if not unseen.any():
        return None
    part = data.subset(unseen)
    return replace(part, content=part.exemplar_content, exemplar=part.target, target=part.exemplar,
                   digit=part.exemplar_digit, exemplar_content=part.content, exemplar_digit=part.digit)


def cache_key(data, config: FeatureNetConfig) -> str:
    """Hash of the config and of the training images and labels: new data, new net."""
    h = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    h.update(json.dumps({k: list(v) for k, v in data.attributes.items()}).encode())
    for t in (data.target, data.digit, data.style):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def feature_net_path(data, config: FeatureNetConfig = LOSS_NET) -> Path:
    """Where :func:`get_feature_net` caches the net of ``config`` trained on ``data``."""
    return data_dir() / f"feature_net_{cache_key(data, config)}.pt"


def get_feature_net(data, config: FeatureNetConfig = LOSS_NET, device=None,
                    progress: bool = True) -> MultiHeadNet:
    """The feature net of ``config`` trained on ``data`` (a StyleTransferSet, normally the
    ``train`` split), loaded from the cache or trained now and cached
    (:func:`gancore.train.net_cache.cached_net`: a corrupt or stale file is retrained with a
    warning).

    ``.heldout_accuracy`` is :func:`accuracy` on :func:`unseen_exemplars`, per
    head (None when there are none). The net comes back in eval mode with its
    parameters frozen: it is a fixed measuring instrument, and gradients flow
    through it only to the images.
    """
    path = feature_net_path(data, config)

    def train_now():
        net = train_feature_net(data, config, device, progress)
        held = unseen_exemplars(data)
        heldout_accuracy = None if held is None else accuracy(net, held.target, held)
        n_held = 0 if held is None else len(held)
        shown = ", ".join(f"{head} {acc:.1%}" for head, acc in (heldout_accuracy or {}).items())
        log.info("feature net (width %d, seed %d) trained on %d images; accuracy on %d unseen exemplars: %s; "
                 "cached in %s", config.width, config.seed, len(data), n_held, shown or "-", path)
        return net, heldout_accuracy, {"n_train": len(data), "n_heldout": n_held}

    settings = {**asdict(config), "cache_key": cache_key(data, config)}
    net = cached_net(path, "feature net", settings, build=lambda arch: config.net_class(**arch), train=train_now)
    return net.to(as_device(device)).eval().requires_grad_(False)


def get_style_classifier(data, device=None, progress: bool = True) -> MultiHeadNet:
    """The network that grades outputs: :data:`GRADER_NET`, independent of the loss's net
    in design, seed and (given the measure part's triples) training digits."""
    return get_feature_net(data, GRADER_NET, device, progress)


def net_card(net: MultiHeadNet, config: FeatureNetConfig, data) -> dict:
    """What a feature net is and what it learned from, for a table: design, width, seed, epochs,
    the triples it was trained on (``data``: their count, distinct digits and styles) and its
    held-out digit and style accuracy."""
    digits = torch.cat([data.content, data.exemplar_content]) if data.exemplar_content is not None else data.content
    held = getattr(net, "heldout_accuracy", None) or {}
    return {"design": type(net).__name__, "width": config.width, "hidden": config.hidden, "seed": config.seed,
            "epochs": config.epochs, "triples": len(data),
            "distinct digits": len(torch.unique(digits.flatten(1), dim=0)), "styles": len(data.combos()),
            "held-out digit acc": held.get("digit"), "held-out style acc": held.get("style")}
