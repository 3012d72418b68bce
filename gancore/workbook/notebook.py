"""The conventions every notebook shares.

    cfg = nb.setup(StyleTransfer, globals())  # the cell after the parameters: check, smoke, seed, out
    ...
    nb.save_metrics(out, {"fd": fd})          # out/metrics.json, read by batches and tests

The rules (``positive_int``, ``number(0, 1)``, ``one_of(...)``, ...) check one parameter each;
:func:`validate` runs many and reports every bad one in one :class:`ParameterError`.
:func:`smoke_mode` honours GANCORE_SMOKE=1 and :func:`output_dir` GANCORE_OUT_DIR (both set by the tests).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable

from gancore.paths import atomic_write, resolve

Rule = Callable[[str, Any], None]


class ParameterError(ValueError):
    """A notebook parameter has the wrong type or is out of range."""


def smoke_mode(smoke: bool) -> bool:
    """True when the parameter says so or the environment has GANCORE_SMOKE=1."""
    return bool(smoke) or os.environ.get("GANCORE_SMOKE") == "1"


def output_dir(out_dir: str | os.PathLike) -> Path:
    """The folder for this run's outputs; GANCORE_OUT_DIR (set by tests) wins,
    so a smoke run never overwrites the results of ``make run``."""
    path = resolve(os.environ.get("GANCORE_OUT_DIR") or out_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _type_rule(kind: type, label: str, check: Callable[[Any], bool] = lambda v: True,
               what: str = "") -> Rule:
    def rule(name: str, value: Any) -> None:
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            raise ParameterError(f"{name} must be {label}, got {value!r} ({type(value).__name__})")
        if not check(value):
            raise ParameterError(f"{name} must be {what}, got {value!r}")
    return rule


def is_bool(name: str, value: Any) -> None:
    _type_rule(bool, "True or False")(name, value)


def is_str(name: str, value: Any) -> None:
    _type_rule(str, "a string")(name, value)


positive_int = _type_rule(int, "an int", lambda v: v >= 1, ">= 1")
non_negative_int = _type_rule(int, "an int", lambda v: v >= 0, ">= 0")


def number(min: float = -math.inf, max: float = math.inf, open_min: bool = False) -> Rule:
    """A real number in [min, max] (or (min, max] with ``open_min``)."""
    lo = "(" if open_min else "["

    def check(v):
        return (v > min if open_min else v >= min) and v <= max and math.isfinite(v)

    inner = _type_rule((int, float), "a number", check, f"in {lo}{min}, {max}]")

    def rule(name: str, value: Any) -> None:
        if isinstance(value, bool):
            raise ParameterError(f"{name} must be a number, got {value!r}")
        inner(name, value)
    return rule


def one_of(*choices: Any) -> Rule:
    """One of ``choices``."""
    def rule(name: str, value: Any) -> None:
        if value not in choices:
            raise ParameterError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return rule


def validate(**params: tuple[Any, Rule]) -> None:
    """Check ``name=(value, rule)`` pairs; raise one ParameterError listing every failure."""
    errors = []
    for name, (value, rule) in params.items():
        try:
            rule(name, value)
        except ParameterError as exc:
            errors.append(str(exc))
    raise_if_any(errors)


def raise_if_any(errors: list[str]) -> None:
    """One ParameterError that lists every message in ``errors`` and says how to fix them."""
    if errors:
        raise ParameterError("bad notebook parameter" + ("s" if len(errors) > 1 else "") + ": "
                             + "; ".join(errors) + ". Fix the parameters cell (or the -p values "
                             "given to papermill) and run again.")


def save_metrics(out_dir: str | os.PathLike, metrics: dict, name: str = "metrics.json") -> Path:
    """Write ``metrics`` as JSON atomically, so a crash never leaves half a file. ``data_sources``
    is added: where this process read each data set (``gancore.data.sources.SOURCES_USED``), so
    a batch's results table says which digits every run learnt from."""
    from gancore.data.sources import SOURCES_USED

    if SOURCES_USED and "data_sources" not in metrics:
        metrics = {**metrics, "data_sources": dict(SOURCES_USED)}
    path = Path(out_dir) / name
    with atomic_write(path, "w") as fh:
        json.dump(metrics, fh, indent=2, sort_keys=True, default=float)  # numpy scalars too
    return path


def setup(params_class, namespace: dict):
    """The cell after a notebook's parameters: ``cfg = nb.setup(StyleTransfer, globals())``.

    Checks every parameter at once (one :class:`ParameterError`), applies smoke mode
    (:func:`smoke_mode`), seeds everything, sets the CPU threads, makes the output folder
    (:func:`output_dir`) and picks the device. The checked, smoke-sized values are written
    back into ``namespace``, with ``out`` (the folder) and ``device``, so later cells use the
    plain names. Returns the params object; ``cfg.changed()`` lists what differs from the defaults.
    """
    import torch

    from gancore.runtime import default_device, set_seed

    cfg = params_class.from_namespace(namespace)
    if smoke_mode(cfg.smoke):
        cfg = cfg.smoked()
    set_seed(cfg.seed)
    if cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)  # on a shared CPU, fewer threads avoid waiting for busy cores
    out, device = output_dir(cfg.out_dir), default_device()
    namespace.update(vars(cfg), out=out, device=device)
    changed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in cfg.changed().items())
    print(f"{params_class.__name__}: device {device}, {torch.get_num_threads()} CPU threads, smoke={cfg.smoke}; "
          + (f"changed from the defaults: {changed}" if changed else "all defaults"))
    return cfg
