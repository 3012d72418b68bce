"""The photo grader: a measuring network independent of the perceptual loss's.

Notebook 06's perceptual and style losses use :func:`gancore.metrics.feature_nets.get_feature_net`
on the generator's training triples: a VGG-like :class:`gancore.nets.feature.FeatureNet`
(3x3 convs, batch norm, max-pooling, a flattened fully connected layer) that learns the source
photo, filter and scale of the *training styles'* targets. The grader differs in both ways the
rules ask for:

    architecture  :class:`GraderNet`: 5x5 then 3x3 *strided* convs, group norm, and a global
                  mean-and-deviation pooling (texture statistics, any image size) before its
                  fully connected layer
    training      every training-pool tile in *every* style, seen and unseen (the generator
                  never trains on the unseen ones), with its own seed and schedule

    grader = get_photo_grader(photo_grader_set(seed=0))   # trained once, then cached in data/
    grader.features(x)        # [(B, w, H/2, W/2), (B, 2w, H/4, W/4), (B, 4w, H/8, W/8)]
    grader.fc(features[-1])   # (B, hidden): the space of the Fréchet distance

It never sees a test tile: those are what its Fréchet distance compares against. Its held-out
accuracy is measured on the test pool's tiles in every style, and kept with the cache.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.data.photo_styles import NPR_ATTRIBUTES, PhotoNPRDomain
from gancore.data.style_pairs import StyleTransferSet
from gancore.metrics.feature_nets import accuracy, head_labels
from gancore.nets.feature import FeatureNet
from gancore.paths import data_dir
from gancore.runtime import as_device
from gancore.train.net_cache import cached_net
from gancore.train.supervised import fit

log = logging.getLogger("gancore")


@dataclass(frozen=True)
class GraderConfig:
    """Architecture and training of the photo grader; part of its cache key."""

    width: int = 16
    hidden: int = 96
    epochs: int = 8
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 2


class MeanStdPool(nn.Module):
    """(B, C, H, W) -> (B, 2C): per channel mean and standard deviation over the pixels."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3), unbiased=False)], dim=1)


def _down(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, 2, kernel // 2), nn.GroupNorm(4, c_out), nn.GELU())


class GraderNet(FeatureNet):
    """(3, H, W) -> 5x5/2 conv (w) -> 3x3/2 (2w) -> 3x3/2 (4w) -> mean and std per channel ->
    fc (hidden) -> one linear head per label. Any H, W divisible by 8.

    Shares :class:`FeatureNet`'s interface (``features``, ``fc``, ``heads``, ``predict``), so
    every metric that takes a FeatureNet takes it, but none of its layers' design.
    """

    def __init__(self, heads: dict[str, int], width: int = 16, hidden: int = 96, channels: int = 3):
        nn.Module.__init__(self)  # FeatureNet's layers are exactly what this net must not share
        self.arch = {"heads": dict(heads), "width": width, "hidden": hidden, "channels": channels}
        w = width
        self.blocks = nn.ModuleList([_down(channels, w, 5), _down(w, 2 * w, 3), _down(2 * w, 4 * w, 3)])
        self.fc = nn.Sequential(MeanStdPool(), nn.Linear(8 * w, hidden), nn.ReLU())
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in heads.items()})

    @property
    def device(self) -> torch.device:
        return self.fc[1].weight.device

    def _check(self, x: Tensor) -> None:
        c = self.arch["channels"]
        if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != c or x.shape[2] % 8 or x.shape[3] % 8:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"the grader takes images (B, {c}, H, W) in [-1, 1] with H and W divisible by 8, "
                             f"got {shape}")


def all_styles_set(images: Tensor, labels: Tensor, domain: PhotoNPRDomain, split: str) -> StyleTransferSet:
    """Every image in every style of ``domain``: (N * n_styles) triples; the exemplar is the target."""
    shape = tuple(len(v) for v in domain.attributes.values())
    styles = torch.cartesian_prod(*(torch.arange(n) for n in shape)).reshape(-1, len(shape))  # (S, k)
    style = styles.repeat_interleave(len(images), 0)  # (N * S, k)
    content, digit = images.repeat(len(styles), 1, 1, 1), labels.repeat(len(styles))
    target = domain.render_styles(content, style)
    return StyleTransferSet(content, target, target, digit, style, split, attributes=domain.attributes)


def photo_grader_set(seed: int = 0, size: int = 64, max_tiles: int = 0, pool: str = "train") -> StyleTransferSet:
    """The grader's data: ``pool``'s tiles of the content split of ``make_npr_splits(seed=seed)``
    (the first ``max_tiles``; 0: all) in all 15 styles. ``pool="test"`` gives its held-out set."""
    if pool not in ("train", "test"):
        raise ValueError(f"pool must be 'train' or 'test', got {pool!r}")
    domain = PhotoNPRDomain(size)
    images, labels = domain.content(seed)[pool]
    if max_tiles:
        images, labels = images[:max_tiles], labels[:max_tiles]
    return all_styles_set(images, labels, domain, f"grader_{pool}")


def _cache_key(data: StyleTransferSet, config: GraderConfig) -> str:
    h = hashlib.sha256(json.dumps({"grader": asdict(config)}, sort_keys=True).encode())
    for t in (data.target, data.digit, data.style):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def get_photo_grader(data: StyleTransferSet, config: GraderConfig = GraderConfig(),
                     heldout: StyleTransferSet | None = None, device=None, progress: bool = True) -> GraderNet:
    """The :class:`GraderNet` trained on ``data`` to predict the source photo, filter and scale
    (L = sum_heads cross_entropy), cached under ``data/``; frozen, in eval mode.
    ``.heldout_accuracy``: :func:`accuracy` per head on ``heldout`` (None without it)."""
    if set(data.attributes) != set(NPR_ATTRIBUTES):
        raise ValueError(f"the photo grader learns the attributes {list(NPR_ATTRIBUTES)}, "
                         f"got data with {list(data.attributes)}")
    key = _cache_key(data, config)
    heads = {"digit": int(data.digit.max()) + 1, **{n: len(v) for n, v in data.attributes.items()}}

    def loss(logits: dict[str, Tensor], y: dict[str, Tensor]) -> Tensor:
        return sum(F.cross_entropy(logits[n], y[n]) for n in heads)

    def train_now():
        c = config
        net = fit(lambda: GraderNet(heads, c.width, c.hidden), data.target, head_labels(data), loss,
                  epochs=c.epochs, batch_size=c.batch_size, lr=c.lr, seed=c.seed, device=device,
                  progress=progress, desc="photo grader")
        held = None if heldout is None else accuracy(net, heldout.target, heldout)
        log.info("photo grader trained on %d images; held-out accuracy %s", len(data), held)
        return net, held, {"n_train": len(data), "n_heldout": 0 if heldout is None else len(heldout)}

    settings = {**asdict(config), "cache_key": key}
    net = cached_net(data_dir() / f"photo_grader_{key}.pt", "photo grader", settings,
                     build=lambda arch: GraderNet(**arch), train=train_now)
    return net.to(as_device(device)).eval().requires_grad_(False)
