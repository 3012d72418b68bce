"""Trained networks cached as files under ``data/``: saved whole, verified when loaded.

    model = cached_net(path, "digit classifier", settings, build=lambda arch: Net(**arch),
                       train=lambda: (trained_model, its_heldout_accuracy, {"source": ...}))

One file holds a network's architecture (its ``arch`` dict), the settings it
was trained with, its held-out accuracy, free-form ``info`` and its weights,
plus ``sha256`` of all of these. A file is derived data: when it is
unreadable, fails its checksum or was trained with other settings,
:func:`cached_net` logs a warning naming the file, trains the network again
and replaces the file atomically (readers see the old file or the new one).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from gancore.paths import atomic_write

log = logging.getLogger("gancore")

NET_FORMAT = "gancore-cached-net-v1"


class StaleNet(Exception):
    """A readable cached network that no longer answers the request (other settings, older format)."""


class CorruptNet(Exception):
    """A cached network whose contents are not what was saved (checksum mismatch, missing fields)."""


def sha256_of(meta: bytes, tensors: Iterable[tuple[str, torch.Tensor]]) -> str:
    """sha256 over ``meta`` (the plain data, already serialised) and then each tensor's name,
    dtype, shape and raw bytes, in the order given. The cached networks and the trainer's
    checkpoints (:mod:`gancore.train.checkpoint`) are both verified with it."""
    h = hashlib.sha256(meta)
    for name, t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def checksum(record: dict) -> str:
    """sha256 over the record's metadata (as sorted JSON) and its weights (names, dtypes,
    shapes and raw bytes, in state-dict order); ``record["sha256"]`` itself is left out."""
    meta = {k: v for k, v in record.items() if k not in ("sha256", "state_dict")}
    return sha256_of(json.dumps(meta, sort_keys=True).encode(), record["state_dict"].items())


def _plain(settings: dict) -> dict:
    """``settings`` as JSON would give them back (tuples become lists), for a fair comparison."""
    return json.loads(json.dumps(settings, sort_keys=True))


def save_net(path: str | Path, model: nn.Module, kind: str, settings: dict, heldout_accuracy,
             info: dict | None = None) -> None:
    """Write ``model`` (which must have an ``arch`` dict) to ``path`` atomically.

    ``heldout_accuracy``: a float, or a dict of floats (one per head); ``info``:
    JSON-able notes kept but not verified on load (e.g. the data's source).
    """
    if not isinstance(getattr(model, "arch", None), dict):
        raise TypeError(f"{type(model).__name__} has no `arch` dict to rebuild it from; "
                        "only networks with an arch attribute can be cached")
    record = {"format": NET_FORMAT, "kind": kind, "arch": model.arch, "settings": _plain(settings),
              "heldout_accuracy": heldout_accuracy, "info": info or {},
              "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    record["sha256"] = checksum(record)
    with atomic_write(path) as fh:  # an interrupted save leaves the old file
        torch.save(record, fh)


def load_net(path: str | Path, kind: str, settings: dict, build: Callable[[dict], nn.Module]) -> nn.Module:
    """The network saved in ``path`` by :func:`save_net`, rebuilt by ``build(arch)``, in eval
    mode, with ``.heldout_accuracy`` and ``.cache_info`` set.

    Raises :class:`StaleNet` when it is of another kind, format or ``settings``, and
    :class:`CorruptNet` when its checksum fails; torch's own errors when unreadable.
    """
    record = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(record, dict) or record.get("format") != NET_FORMAT:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise StaleNet(f"{path} is not a {NET_FORMAT} file (found {found!r})")
    if record.get("kind") != kind or record.get("settings") != _plain(settings):
        raise StaleNet(f"{path} holds a {record.get('kind')} trained with {record.get('settings')}, "
                       f"not a {kind} with {_plain(settings)}")
    try:
        intact = record["sha256"] == checksum(record)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CorruptNet(f"{path} lacks a field ({type(exc).__name__}: {exc})") from exc
    if not intact:
        raise CorruptNet(f"{path} fails its sha256 checksum")
    model = build(record["arch"])
    model.load_state_dict(record["state_dict"])
    model.heldout_accuracy = record["heldout_accuracy"]
    model.cache_info = record["info"]
    return model.eval()


def cached_net(path: str | Path, kind: str, settings: dict, build: Callable[[dict], nn.Module],
               train: Callable[[], tuple[nn.Module, object, dict]]) -> nn.Module:
    """Load the ``kind`` network of ``settings`` from ``path``, or train and save it.

    ``train()`` returns (model, held-out accuracy, info); it runs when the file
    is missing, unreadable, corrupt or stale, the last three with a warning.
    """
    path = Path(path)
    if path.exists():
        try:
            return load_net(path, kind, settings, build)
        except (StaleNet, CorruptNet) as exc:
            log.warning("retraining the %s: %s", kind, exc)
        except Exception as exc:  # unreadable: a cache, so rebuild rather than fail
            log.warning("retraining the %s: the cached file %s is unreadable (%s: %s)",
                        kind, path, type(exc).__name__, exc)
    model, heldout_accuracy, info = train()
    save_net(path, model, kind, settings, heldout_accuracy, info)
    model.heldout_accuracy, model.cache_info = heldout_accuracy, info
    return model.eval()
