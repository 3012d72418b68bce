"""Grid files: which notebooks, which parameters, expanded into runs and checked before any runs.

    notebook: 03_mnist_baseline          # or notebooks: [00, 01], a stem, prefix or .ipynb path
    output: runs/loss-sweep              # every run gets a folder under it
    parameters: {steps: 2000}            # the same in every run
    grid: {loss: [hinge, least_squares]} # every combination (a product)
    zip: {l1: [10.0, 5.0], perceptual: [1.0, 2.0]}   # lists that advance together
    seeds: 3                             # shorthand for grid: {seed: [0, 1, 2]} (or a list of seeds)
    timeout: 3600                        # seconds per run (optional); kernel: python3 (optional)

Each name is checked against the notebook's own parameters cell, read by papermill's
``inspect_notebook``: an unknown name, a value of the wrong type or an empty list stops the
batch with the key and the file. Values only the notebook can judge (ranges, rules between
parameters) are its own ``nb.setup``'s job, and fail that run alone.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from gancore.batch.notebooks import find_notebook
from gancore.batch.provenance import source_digest
from gancore.paths import resolve

KEYS = ("notebook", "notebooks", "output", "parameters", "grid", "zip", "seeds", "timeout", "kernel")
SET_BY_THE_BATCH = ("out_dir",)  # every run writes into its own folder


class GridError(ValueError):
    """A grid file (or command line) that cannot run: its message names the file and the key."""


@dataclass(frozen=True)
class Run:
    """One notebook with one set of parameters, run into ``output / name``."""

    notebook: Path
    name: str  # "03_mnist_baseline/loss=hinge,seed=0"
    parameters: dict  # what the batch injects, out_dir and cpu_threads aside

    @property
    def key(self) -> str:
        """sha256 of the notebook's bytes, the parameters and the gancore package's source
        (:func:`~gancore.batch.provenance.source_digest`): a re-run with all three unchanged is
        skipped, and one after an edit to gancore/ runs again."""
        digest = hashlib.sha256(self.notebook.read_bytes())
        digest.update(json.dumps(self.parameters, sort_keys=True, default=str).encode())
        digest.update(source_digest().encode())
        return digest.hexdigest()[:16]


@dataclass
class Grid:
    notebooks: list[Path]
    output: Path
    parameters: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    zip: dict = field(default_factory=dict)
    timeout: float | None = None
    kernel: str = "python3"
    source: str = "the command line"  # named in every error

    def runs(self) -> list[Run]:
        """Every notebook × every combination of ``grid`` × every row of ``zip``, in that order."""
        zipped = [dict(zip(self.zip, row)) for row in zip(*self.zip.values())] or [{}]
        runs = []
        for notebook in self.notebooks:
            for combo in itertools.product(*self.grid.values()):
                for row in zipped:
                    varying = {**dict(zip(self.grid, combo)), **row}
                    runs.append(Run(notebook, _run_name(notebook.stem, varying), {**self.parameters, **varying}))
        return runs

    def check(self) -> "Grid":
        """Every name and type against each notebook's parameters cell; raises :class:`GridError`."""
        import papermill as pm

        if not self.notebooks:
            raise GridError(f"{self.source}: no notebook given (key 'notebook')")
        for key in ("grid", "zip"):
            for name, values in getattr(self, key).items():
                if not isinstance(values, list) or not values:
                    raise GridError(f"{self.source}: {key}.{name} must be a non-empty list, got {values!r}")
        lengths = {name: len(v) for name, v in self.zip.items()}
        if len(set(lengths.values())) > 1:
            raise GridError(f"{self.source}: the zip lists advance together, so they need one length; got {lengths}")
        sections = {"parameters": self.parameters, "grid": self.grid, "zip": self.zip}
        seen: dict[str, str] = {}
        for key, section in sections.items():
            for name in section:
                if name in seen:
                    raise GridError(f"{self.source}: {name!r} is in both {seen[name]} and {key}; give it once")
                if name in SET_BY_THE_BATCH:
                    raise GridError(f"{self.source}: {key}.{name} is set by the batch (each run writes into its "
                                    f"own folder under output); remove it")
                seen[name] = key
        names = [r.name for r in self.runs()]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise GridError(f"{self.source}: these runs would come twice (a value listed twice?): {', '.join(twice)}")
        for notebook in self.notebooks:
            declared = pm.inspect_notebook(str(notebook))
            for key, section in sections.items():
                for name, values in section.items():
                    for value in (values if key != "parameters" else [values]):
                        _check_value(self.source, f"{key}.{name}", notebook, declared, name, value)
        return self


def _check_value(source: str, where: str, notebook: Path, declared: dict, name: str, value) -> None:
    if name not in declared:
        raise GridError(f"{source}: {where}: {notebook.stem} has no parameter {name!r}; its parameters are "
                        + ", ".join(declared))
    kind = declared[name]["inferred_type_name"]
    ok = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          "str": lambda v: isinstance(v, str), "bool": lambda v: isinstance(v, bool)}.get(kind, lambda v: True)
    if not ok(value):
        hint = ""
        if kind == "float" and isinstance(value, str):
            hint = " (YAML reads 1e-3 as text: write 1.0e-3)"
        raise GridError(f"{source}: {where}: {value!r} is a {type(value).__name__}, but {notebook.stem} declares "
                        f"`{name}: {kind} = {declared[name]['default']}`{hint}")


def _run_name(stem: str, varying: dict) -> str:
    if not varying:
        return stem
    text = ",".join(f"{k}={v}" for k, v in varying.items())
    return f"{stem}/" + "".join("_" if c in "/\\ :*?\"<>|" else c for c in text)


def load_grid(path: str | os.PathLike, smoke: bool = False) -> Grid:
    """A checked :class:`Grid` from a YAML file; ``smoke`` adds ``smoke: true`` to its parameters."""
    import yaml

    from gancore.workbook.notebook import smoke_mode

    # GANCORE_SMOKE=1 shrinks every notebook anyway: say so in the parameters, so that a run's key
    # (what a re-run compares) tells a smoke run from a full one
    smoke = smoke_mode(smoke)

    path = Path(path)
    source = str(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise GridError(f"grid file {source} not found") from None
    except yaml.YAMLError as exc:
        raise GridError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise GridError(f"{source}: a grid file is a mapping of {', '.join(KEYS)}; got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise GridError(f"{source}: unknown key(s) {unknown}; a grid file may hold {', '.join(KEYS)}")
    names = spec.get("notebooks", spec.get("notebook"))
    names = names if isinstance(names, list) else [] if names is None else [names]
    try:
        notebooks = [find_notebook(str(n), base=path.parent) for n in names]
    except ValueError as exc:
        raise GridError(f"{source}: notebook: {exc}") from None
    for key in ("parameters", "grid", "zip"):
        if key in spec and (not isinstance(spec[key], dict) or not spec[key]):
            raise GridError(f"{source}: {key} must be a non-empty mapping of parameter names, got {spec[key]!r}")
    grid = dict(spec.get("grid") or {})
    if "seeds" in spec:
        seeds = spec["seeds"]
        seeds = list(range(seeds)) if isinstance(seeds, int) and not isinstance(seeds, bool) else seeds
        if "seed" in grid or "seed" in (spec.get("parameters") or {}) or "seed" in (spec.get("zip") or {}):
            raise GridError(f"{source}: seeds is a shorthand for grid.seed; give the seeds once")
        if not isinstance(seeds, list) or not seeds:
            raise GridError(f"{source}: seeds must be a count >= 1 or a non-empty list of seeds, got {spec['seeds']!r}")
        grid["seed"] = seeds
    parameters = {**(spec.get("parameters") or {}), **({"smoke": True} if smoke else {})}
    timeout = spec.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise GridError(f"{source}: timeout must be seconds > 0, got {timeout!r}")
    output = resolve(spec.get("output") or Path("runs") / path.stem)
    return Grid(notebooks, output, parameters, grid, dict(spec.get("zip") or {}), timeout,
                str(spec.get("kernel") or "python3"), source).check()
