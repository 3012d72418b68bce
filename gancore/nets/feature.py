"""A small VGG-like CNN with one classification head per label: the features behind
perceptual and style losses (see gancore.metrics.feature_nets). The grader of style
transfer has the same interface (:class:`MultiHeadNet`) and another design
(:mod:`gancore.nets.residual`).
"""
from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

log = logging.getLogger("gancore")


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 conv and batch norm: batch norm makes the short training converge; in eval
    mode it is a fixed per-channel affine map, so the features stay deterministic."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))


class MultiHeadNet(nn.Module):
    """What every feature network shares: ``features(x)`` (three conv stages, fine to coarse),
    ``fc`` (last stage -> hidden vector), one linear head per label, and the checks and
    batched prediction below. A subclass builds ``blocks``, ``fc`` and ``heads`` and sets ``arch``."""

    arch: dict
    blocks: nn.ModuleList
    fc: nn.Sequential
    heads: nn.ModuleDict

    @property
    def device(self) -> torch.device:
        return next(self.heads.parameters()).device

    def _check(self, x: Tensor) -> None:
        c, s = self.arch["channels"], self.arch["size"]
        if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (c, s, s):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"the feature network takes images of shape (B, {c}, {s}, {s}) in [-1, 1], "
                             f"got {shape}")

    def features(self, x: Tensor) -> list[Tensor]:
        """The outputs of the three stages (``blocks``), fine to coarse (see the subclass's doc)."""
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


class FeatureNet(MultiHeadNet):
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
