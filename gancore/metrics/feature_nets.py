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
:func:`get_style_classifier`: another instance with its own seed and width.
Caches live in ``gancore.paths.data_dir()``, keyed by the config and a
fingerprint of the training images, and are written atomically.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.nets.feature import FeatureNet
from gancore.paths import atomic_write, data_dir
from gancore.runtime import as_device
from gancore.train.supervised import fit

log = logging.getLogger("gancore")

FEATURE_NET_FORMAT = "gancore-feature-net-v1"


@dataclass(frozen=True)
class FeatureNetConfig:
    """Architecture and training of one feature network; part of its cache key."""

    width: int = 16         # channels of the first conv; later layers have 2w, 4w
    hidden: int = 128       # units of the shared fully connected layer before the heads
    epochs: int = 6         # passes over the training images
    batch_size: int = 64
    lr: float = 2e-3        # Adam, cosine-decayed to 0
    seed: int = 0


LOSS_NET = FeatureNetConfig()  # the features of the perceptual and style losses
GRADER_NET = FeatureNetConfig(width=24, hidden=192, seed=1)  # grades outputs; never a loss


def head_labels(data) -> dict[str, Tensor]:
    """The labels of a :class:`gancore.data.digit_styles.StyleTransferSet`'s targets, per head."""
    labels = {"digit": data.digit}
    for i, name in enumerate(data.attributes):
        labels[name] = data.style[:, i]
    return labels


def accuracy(net: FeatureNet, images: Tensor, data) -> dict[str, float]:
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
                      progress: bool = True) -> FeatureNet:
    """Train a :class:`FeatureNet` on ``data.target`` to predict every label of
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

    return fit(lambda: FeatureNet(heads, cfg.width, cfg.hidden, channels=c, size=s), images, labels, loss,
               epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
               device=device, progress=progress, desc="feature net")


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
                    progress: bool = True) -> FeatureNet:
    """The feature net of ``config`` trained on ``data`` (a StyleTransferSet, normally the
    ``train`` split), loaded from the cache or trained now and cached.

    The net comes back in eval mode with its parameters frozen: it is a fixed
    measuring instrument, and gradients flow through it only to the images.
    """
    device = as_device(device)
    path = feature_net_path(data, config)
    net = None
    if path.exists():
        try:
            net = _load(path)
        except Exception as exc:  # a cache: rebuild rather than fail
            log.warning("the cached feature net %s is unreadable (%s: %s); training a new one",
                        path, type(exc).__name__, exc)
    if net is None:
        net = train_feature_net(data, config, device, progress)
        _save(net, path, config)
        log.info("feature net (width %d, seed %d) trained on %d images; cached in %s",
                 config.width, config.seed, len(data.target), path)
    return net.to(device).eval().requires_grad_(False)


def get_style_classifier(data, device=None, progress: bool = True) -> FeatureNet:
    """The network that grades outputs: :data:`GRADER_NET`, independent of the loss's net."""
    return get_feature_net(data, GRADER_NET, device, progress)


def _save(net: FeatureNet, path: Path, config: FeatureNetConfig) -> None:
    state = {"format": FEATURE_NET_FORMAT, "config": asdict(config), "arch": net.arch,
             "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}}
    with atomic_write(path) as fh:  # readers see the old file or the new one, never half
        torch.save(state, fh)


def _load(path: Path) -> FeatureNet:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FEATURE_NET_FORMAT:
        raise ValueError(f"not a {FEATURE_NET_FORMAT} file")
    net = FeatureNet(**state["arch"])
    net.load_state_dict(state["state_dict"])
    return net
