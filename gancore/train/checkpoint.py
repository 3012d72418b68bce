"""The trainer's checkpoint files: format, reading with one clear error, and the models inside.

A checkpoint (:data:`CHECKPOINT_FORMAT`) holds, besides weights, optimiser and RNG
states, each model's class name and constructor config (``net.config``, see
:mod:`gancore.nets.base`), so :func:`rebuild_models` builds G and D again without
guessing. Files of the first format (:data:`V1_FORMAT`) hold class names only: they
still load into a trainer whose models you build yourself.

A checkpoint is data, never code. It holds tensors and plain data only (dicts, lists,
tuples, str, int, float, bool, None; RNG states are tensors), and it is read with
``torch.load(weights_only=True)``, whose unpickler refuses anything else before it can
run: a shared file cannot execute code on the machine that loads it. It also records
``sha256`` over everything it holds (:func:`checkpoint_checksum`, the mechanism of the
network cache, :func:`gancore.train.net_cache.sha256_of`), so a damaged file is refused
with one :class:`CheckpointError` instead of loading changed weights. Files of the
older formats (:data:`V2_FORMAT`, :data:`V1_FORMAT`) carry no checksum and load
without one, still under ``weights_only=True``.
"""
from __future__ import annotations

import inspect
import pickle
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gancore.nets.base import build_net, net_spec
from gancore.paths import atomic_write
from gancore.train.config import TrainConfig
from gancore.train.net_cache import sha256_of

CHECKPOINT_FORMAT = "gancore-checkpoint-v3"  # plain data and tensors only, with a sha256 checksum
V2_FORMAT = "gancore-checkpoint-v2"  # models saved with their configs, no checksum
V1_FORMAT = "gancore-checkpoint-v1"  # models saved as class names, without their configs
FORMATS = (V1_FORMAT, V2_FORMAT, CHECKPOINT_FORMAT)


class CheckpointError(RuntimeError):
    """A checkpoint is corrupt, unsafe to load, or belongs to a different run."""


def plain_data(obj, where: str = "state"):
    """``obj`` as a checkpoint may hold it: tensors and plain data. numpy numbers become Python
    numbers and numpy arrays tensors; anything else is a TypeError naming where it sits."""
    if isinstance(obj, torch.Tensor) or obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, Mapping):
        return {k: plain_data(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [plain_data(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    raise TypeError(f"{where} is a {type(obj).__name__}; a checkpoint holds only tensors and plain data "
                    "(dict, list, tuple, str, int, float, bool, None), so it can be loaded without running "
                    "code: store it as one of those")


def _skeleton(obj, where: str, tensors: list):
    """``obj`` with each tensor replaced by its place, the tensors appended to ``tensors``."""
    if isinstance(obj, torch.Tensor):
        tensors.append((where, obj))
        return f"<tensor {where}>"
    if isinstance(obj, Mapping):
        return {k: _skeleton(v, f"{where}[{k!r}]", tensors) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [_skeleton(v, f"{where}[{i}]", tensors) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"{where} is a {type(obj).__name__}, which a checkpoint does not hold")


def checkpoint_checksum(state: dict) -> str:
    """sha256 over everything in ``state`` but its ``"sha256"``: the plain data (as ``repr``, which
    keeps order, types and every float exactly), then each tensor's place, dtype, shape and bytes."""
    tensors: list = []
    skeleton = _skeleton({k: v for k, v in state.items() if k != "sha256"}, "state", tensors)
    return sha256_of(repr(skeleton).encode(), tensors)


def write_checkpoint(state: dict, path: str | Path) -> Path:
    """Save ``state`` (made plain, see :func:`plain_data`) with its checksum to ``path``, atomically:
    a temporary file in the same folder, then a rename, so an interrupted save never replaces a
    good checkpoint."""
    path = Path(path)
    state = plain_data({**state, "format": CHECKPOINT_FORMAT})
    state["sha256"] = checkpoint_checksum(state)
    with atomic_write(path) as fh:
        torch.save(state, fh)
    return path


def read_checkpoint(path: str | Path) -> dict:
    """The saved state at ``path``; CheckpointError if it is missing, corrupt, unsafe or foreign.

    Read with ``weights_only=True``: a file holding anything but tensors and plain data is
    refused before any of it runs. A file that records a checksum must match it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train from scratch or check the path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[-1][:300]
        raise CheckpointError(f"{path} was refused: it holds objects other than tensors and plain data, and "
                              f"loading those could run code ({reason}). A gancore checkpoint holds only tensors "
                              "and plain data; do not load files from a source you do not trust, and ask for "
                              "one saved by Trainer.save_checkpoint, or train again") from exc
    except Exception as exc:
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({type(exc).__name__}: "
                              f"{exc}); delete it and train again") from exc
    if not isinstance(state, dict) or state.get("format") not in FORMATS:
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} file; delete it and train again")
    if "sha256" in state or state["format"] == CHECKPOINT_FORMAT:
        try:
            intact = state.get("sha256") == checkpoint_checksum(state)
        except TypeError:
            intact = False
        if not intact:
            raise CheckpointError(f"{path} fails its sha256 checksum: it changed after it was saved (a damaged "
                                  "disk, copy or download). Copy it again from where it came from, or delete "
                                  "it and train again")
    return state


def model_specs(G: nn.Module, D: nn.Module | None) -> dict:
    """What a checkpoint stores about the models: ``{"G": spec, "D": spec or None}`` (see ``net_spec``)."""
    return {"G": net_spec(G), "D": net_spec(D)}


def saved_class_names(state: dict) -> list[str | None]:
    """[G's class name, D's class name or None], from either format."""
    models = state["models"]
    if state["format"] == V1_FORMAT:
        return list(models)
    return [None if models[k] is None else models[k]["class"] for k in ("G", "D")]


def with_defaults(cls: type, config: dict) -> dict:
    """``config`` plus the defaults of ``cls``'s constructor arguments it lacks: an argument added
    after a checkpoint was saved takes its default, which is how that run's network was built."""
    params = inspect.signature(cls.__init__).parameters
    return {**{k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}, **config}


def check_models_fit(state: dict, G: nn.Module, D: nn.Module | None, path: Path) -> None:
    """CheckpointError unless ``state`` holds models of the classes (and configs) of ``G`` and ``D``."""
    mine = [type(G).__name__, None if D is None else type(D).__name__]
    if saved_class_names(state) != mine:
        raise CheckpointError(f"{path} holds models {saved_class_names(state)}, this trainer has {mine}; build "
                              "the trainer with the saved models, or rebuild it with Trainer.load(path, ...)")
    if state["format"] == V1_FORMAT:
        return  # no configs saved: the weights' shapes are checked when they are loaded
    for role, net in (("G", G), ("D", D)):
        saved, current = (state["models"][role] or {}).get("config"), (net_spec(net) or {}).get("config")
        if saved is not None and net is not None:
            saved = with_defaults(type(net), saved)
        if saved is not None and current is not None and saved != current:
            diff = {k: (saved.get(k), current.get(k)) for k in {**saved, **current} if saved.get(k) != current.get(k)}
            raise CheckpointError(f"{path} does not fit these models: {role} was saved with other arguments "
                                  f"(saved, current): {diff}")


def rebuild_models(state: dict, path: Path) -> tuple[nn.Module, nn.Module | None]:
    """New G and D (None if the run had none) built from the saved configs, weights loaded, on the CPU."""
    if state["format"] == V1_FORMAT:
        raise CheckpointError(f"{path} is a {V1_FORMAT} file, which names its models but not their "
                              "arguments, so they cannot be rebuilt; build G and D as that run did and call "
                              "trainer.load_checkpoint(path) (saving it again writes the new format)")
    models = []
    for role in ("G", "D"):
        spec = state["models"][role]
        if spec is None:
            models.append(None)
            continue
        if spec["config"] is None:
            raise CheckpointError(f"{path}: {role} ({spec['class']}) recorded no config, so it cannot be rebuilt; "
                                  "derive it from gancore.nets.base.Rebuildable, or build it yourself and call "
                                  "trainer.load_checkpoint(path)")
        try:
            net = build_net(spec["class"], spec["config"])
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: cannot rebuild {role}: {exc}") from exc
        models.append(net)
    G, D = models
    load_weights(G, D, state, path)
    return G, D


def load_weights(G: nn.Module, D: nn.Module | None, state: dict, path: Path) -> None:
    """Saved weights into ``G`` and ``D``; CheckpointError if their shapes differ."""
    try:
        G.load_state_dict(state["G"])
        if D is not None:
            D.load_state_dict(state["D"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not fit these models (different width or z_dim?): {exc}") from exc


def saved_config(state: dict) -> TrainConfig:
    """The TrainConfig a checkpoint was saved with. A field added after it was saved takes its
    default, which is how that run trained."""
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    saved = {**defaults, **{k: v for k, v in state["config"].items() if k in defaults}}
    return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})


def load_models(path: str | Path) -> tuple[nn.Module, nn.Module | None, TrainConfig]:
    """(G, D, config) of the checkpoint at ``path``: models rebuilt from their saved configs,
    weights loaded, on the CPU in eval mode; D is None for a run without one."""
    path = Path(path)
    state = read_checkpoint(path)
    G, D = rebuild_models(state, path)
    return G.eval(), D if D is None else D.eval(), saved_config(state)


def check_config_matches(state: dict, config: TrainConfig, path: Path) -> None:
    """CheckpointError naming every setting in which the saved run's config differs from ``config``."""
    theirs = asdict(saved_config(state))
    diff = {k: (theirs.get(k), v) for k, v in asdict(config).items() if theirs.get(k) != v}
    if diff:
        raise CheckpointError(f"{path} was saved with a different config (saved, current): {diff}")


def rng_states(noise: torch.Generator, augment: torch.Generator) -> dict:
    """Every random number generator a run draws from: torch's global one, the trainer's noise and
    augmentation generators, and CUDA's when present. A resumed run restores all of them."""
    return {"torch": torch.get_rng_state(), "noise": noise.get_state(), "augment": augment.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def restore_rng_states(saved: dict, noise: torch.Generator, augment: torch.Generator) -> None:
    """Set the generators back to :func:`rng_states`' ``saved`` states."""
    torch.set_rng_state(saved["torch"])
    noise.set_state(saved["noise"])
    if "augment" in saved:  # absent from checkpoints older than augment_shift
        augment.set_state(saved["augment"])
    if saved["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda"])
