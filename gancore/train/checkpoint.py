"""The trainer's checkpoint files: format, reading with one clear error, and the models inside.

A checkpoint (:data:`CHECKPOINT_FORMAT`) holds, besides weights, optimiser and RNG
states, each model's class name and constructor config (``net.config``, see
:mod:`gancore.nets.base`), so :func:`rebuild_models` builds G and D again without
guessing. Files of the first format (:data:`V1_FORMAT`) hold class names only: they
still load into a trainer whose models you build yourself.
"""
from __future__ import annotations

import inspect

from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from gancore.nets.base import build_net, net_spec
from gancore.train.config import TrainConfig

CHECKPOINT_FORMAT = "gancore-checkpoint-v2"
V1_FORMAT = "gancore-checkpoint-v1"  # models saved as class names, without their configs


class CheckpointError(RuntimeError):
    """A checkpoint is corrupt, or belongs to a different run."""


def read_checkpoint(path: str | Path) -> dict:
    """The saved state at ``path``; CheckpointError if it is missing, corrupt or foreign."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train from scratch or check the path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({type(exc).__name__}: "
                              f"{exc}); delete it and train again") from exc
    if not isinstance(state, dict) or state.get("format") not in (V1_FORMAT, CHECKPOINT_FORMAT):
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} file; delete it and train again")
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
