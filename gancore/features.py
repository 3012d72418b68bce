"""A feature network for perceptual and style losses, trained here on the style data.

No pretrained network (VGG) can be downloaded here, so gancore trains its own:
a small CNN that reads a styled 32x32 image and predicts, with one head each,
its digit and every style attribute (stroke, slant, ink, background). To do
that its early layers must encode colour, texture and stroke shape, which is
what perceptual and Gram-matrix losses need.

    net = get_feature_net(splits["train"])      # trained once, then loaded from data/
    feats = net.features(images)                # [(B, w, 32, 32), (B, 2w, 16, 16), (B, 4w, 8, 8)]
    net.predict(images)                         # {"digit": (B,), "stroke": (B,), ...}

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
from torch import Tensor, nn
from tqdm.auto import tqdm

from .losses import perceptual_loss
from .paths import atomic_write, data_dir
from .trainer import default_device

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


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 conv and batch norm: batch norm makes the short training converge; in eval
    mode it is a fixed per-channel affine map, so the features stay deterministic."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))


class FeatureNet(nn.Module):
    """VGG-like: (3, 32, 32) -> conv (w, 32) -> pool -> conv (2w, 16) -> pool -> conv (4w, 8)
    -> pool -> fc -> one linear head per label.

    ``heads`` maps each head's name to its number of classes, e.g.
    ``{"digit": 10, "stroke": 3, "slant": 3, "ink": 9, "background": 7}``.
    """

    def __init__(self, heads: dict[str, int], width: int = 16, hidden: int = 128, channels: int = 3,
                 size: int = 32):
        super().__init__()
        if size % 8:
            raise ValueError(f"image size must be divisible by 8 (three poolings), got {size}")
        self.arch = {"heads": dict(heads), "width": width, "hidden": hidden, "channels": channels,
                     "size": size}
        w = width
        self.blocks = nn.ModuleList([
            nn.Sequential(_conv_bn(channels, w), nn.ReLU()),  # (B, w, S, S)
            nn.Sequential(nn.MaxPool2d(2), _conv_bn(w, 2 * w), nn.ReLU()),  # (B, 2w, S/2, S/2)
            nn.Sequential(nn.MaxPool2d(2), _conv_bn(2 * w, 4 * w), nn.ReLU()),  # (B, 4w, S/4, S/4)
        ])
        self.fc = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(),
                                nn.Linear(4 * w * (size // 8) ** 2, hidden), nn.ReLU())
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in heads.items()})

    @property
    def device(self) -> torch.device:
        return self.fc[2].weight.device

    def _check(self, x: Tensor) -> None:
        c, s = self.arch["channels"], self.arch["size"]
        if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (c, s, s):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"the feature network takes images of shape (B, {c}, {s}, {s}) in [-1, 1], "
                             f"got {shape}")

    def features(self, x: Tensor) -> list[Tensor]:
        """The ReLU outputs of the three conv layers, fine to coarse (see class doc)."""
        self._check(x)
        out = []
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Logits per head, {name: (B, n_classes)}."""
        h = self.fc(self.features(x)[-1])  # (B, hidden)
        return {name: head(h) for name, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: Tensor, batch_size: int = 500) -> dict[str, Tensor]:
        """Predicted class per head, {name: (N,) int64 on the CPU}, batched, no grad."""
        was_training = self.training
        self.eval()
        out: dict[str, list[Tensor]] = {name: [] for name in self.heads}
        for start in range(0, len(images), batch_size):
            logits = self(images[start:start + batch_size].to(self.device))
            for name, value in logits.items():
                out[name].append(value.argmax(1).cpu())
        self.train(was_training)
        return {name: torch.cat(v) for name, v in out.items()}


def head_labels(data) -> dict[str, Tensor]:
    """The labels of a :class:`gancore.styles.StyleTransferSet`'s targets, per head."""
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


@torch.no_grad()
def perceptual_distance(a: Tensor, b: Tensor, net: FeatureNet, batch_size: int = 500) -> float:
    """The perceptual loss between two image sets, paired by index, over all N pairs:

    d(a, b) = sum_l mean (phi_l(a) - phi_l(b))^2   (batched; equals one pass over all N)
    """
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    total = 0.0
    for start in range(0, len(a), batch_size):
        fa = net.features(a[start:start + batch_size].to(net.device))
        fb = net.features(b[start:start + batch_size].to(net.device))
        total += float(perceptual_loss(fa, fb)) * len(fa[0])
    return total / len(a)


# --------------------------------------------------------------------------
# Training and the cache
# --------------------------------------------------------------------------


def train_feature_net(data, config: FeatureNetConfig = LOSS_NET, device=None,
                      progress: bool = True) -> FeatureNet:
    """Train a :class:`FeatureNet` on ``data.target`` to predict every label of :func:`head_labels`.

    L = sum_heads cross_entropy(head(x), label). Deterministic from ``config.seed``;
    the caller's global RNG state is left untouched.
    """
    device = torch.device(device) if device is not None else default_device()
    images, labels = data.target, head_labels(data)
    if "digit" in data.attributes:
        raise ValueError("a style attribute may not be called 'digit': that is the content head")
    # every value of an attribute gets a class, also values that only unseen styles use
    heads = {"digit": int(data.digit.max()) + 1, **{n: len(v) for n, v in data.attributes.items()}}
    c, s = images.shape[1], images.shape[-1]
    cfg = config
    steps_per_epoch = max(1, len(images) // cfg.batch_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        net = FeatureNet(heads, cfg.width, cfg.hidden, channels=c, size=s).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps_per_epoch)
        rng = torch.Generator().manual_seed(cfg.seed)
        net.train()
        bar = tqdm(total=cfg.epochs * steps_per_epoch, desc="feature net", disable=not progress, leave=False)
        for _ in range(cfg.epochs):
            order = torch.randperm(len(images), generator=rng)
            for i in range(steps_per_epoch):
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                logits = net(images[idx].to(device))
                loss = sum(F.cross_entropy(logits[n], labels[n][idx].to(device)) for n in heads)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
        bar.close()
    return net.eval()


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
    device = torch.device(device) if device is not None else default_device()
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
