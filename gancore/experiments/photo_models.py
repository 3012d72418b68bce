"""Notebook 06's trained style models, cached under ``data/`` as the feature nets are.

    pair = cached_photo_model(cfg, "full", train, loss_net)    # trained on first use, then loaded
    pair.G, pair.D, pair.cache_info["curve"]                    # the generator, its critic, its losses

Learning five filters from an exemplar takes more steps than a lesson can wait for on a CPU,
so each method's generator (and discriminator) is trained once with ``cfg.steps`` steps and
saved with a sha256 over weights and settings (:func:`gancore.train.net_cache.cached_net`): a
corrupt or stale file is trained again, with a warning. The settings in the key are the
method's own (:meth:`PhotoStyleTransfer.method_settings`), the split (``n_train``, ``seed``)
and the step count, so any change of them trains a new model.

The learning rates decay to 0 along a cosine over the ``steps``: at a rate high enough to learn
sharp filters in few steps, a constant rate leaves the weights wandering at the end, and can
diverge.
"""
from __future__ import annotations

import hashlib

import torch
from torch import nn

from gancore.data.style_pairs import StyleTransferSet
from gancore.experiments.style_transfer import build_style_trainer
from gancore.nets.base import build_net
from gancore.paths import data_dir
from gancore.train.net_cache import cached_net

CURVE_POINTS = 100  # the cached loss curve keeps about this many points


class GeneratorAndCritic(nn.Module):
    """G and D (or no D) of one training, as one module so that one cache file holds both.
    ``arch`` is what :func:`gancore.train.net_cache.save_net` stores to rebuild it."""

    def __init__(self, G: nn.Module, D: nn.Module | None):
        super().__init__()
        self.G, self.D = G, D
        self.arch = {"G": {"class": type(G).__name__, "config": dict(G.config)},
                     "D": None if D is None else {"class": type(D).__name__, "config": dict(D.config)}}

    @classmethod
    def rebuild(cls, arch: dict) -> "GeneratorAndCritic":
        G = build_net(arch["G"]["class"], arch["G"]["config"])
        D = None if arch["D"] is None else build_net(arch["D"]["class"], arch["D"]["config"])
        return cls(G, D)


def loss_curve(history, points: int = CURVE_POINTS) -> dict[str, list[float]]:
    """Every ``loss_*`` column of a trainer's history, averaged over windows so that about
    ``points`` values remain: {"step": [...], column: [...]} (plain floats, for the cache)."""
    window = max(1, len(history) // points)
    binned = history.groupby(history.index // window).mean(numeric_only=True)
    columns = [c for c in binned if c.startswith("loss_") and binned[c].notna().any()]
    return {"step": [float(s) for s in (binned.index + 1) * window],
            **{c: [float(v) for v in binned[c]] for c in columns}}


def _split_digest(train: StyleTransferSet) -> str:
    h = hashlib.sha256()
    for t in (train.content, train.exemplar, train.target):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def cached_photo_model(cfg, method: str, train: StyleTransferSet, loss_net, device=None,
                       progress: bool = True) -> GeneratorAndCritic:
    """The ``method`` model of notebook 06's parameters ``cfg``, trained ``cfg.steps`` steps on
    ``train`` when no valid cache file exists, in eval mode. ``.cache_info``: the training's
    steps, seconds, threads and loss curve (:func:`loss_curve`)."""
    settings = {**cfg.method_settings(method), "steps": cfg.steps, "lr_decay": "cosine", "method": method,
                "data": _split_digest(train)}
    key = hashlib.sha256(repr(sorted(settings.items())).encode()).hexdigest()[:16]

    def train_now():
        trainer = build_style_trainer(train, **cfg.method_settings(method), feature_net=loss_net, device=device,
                                      lr_decay_steps=cfg.steps, progress=progress)
        trainer.fit(cfg.steps, desc=f"{method} (cached after this)")
        info = {"steps": cfg.steps, "seconds": trainer.train_seconds, "threads": torch.get_num_threads(),
                "curve": loss_curve(trainer.history)}
        return GeneratorAndCritic(trainer.G.cpu(), None if trainer.D is None else trainer.D.cpu()), None, info

    pair = cached_net(data_dir() / f"photo_style_{method.replace('+', '_')}_{key}.pt", "photo style model",
                      settings, build=GeneratorAndCritic.rebuild, train=train_now)
    return pair.to(device if device is not None else "cpu").eval()
