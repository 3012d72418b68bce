"""Notebook parameters as dataclasses: one definition gives the papermill cell, the checks and smoke mode.

    @dataclass
    class StyleTransfer(NotebookParams):
        steps: int = param(700, "generator steps of each training", positive_int, smoke=4)

Papermill needs plain, literal variables in the notebook's ``parameters`` cell,
so that cell is *generated* from the class (:meth:`NotebookParams.parameters_cell`,
``make params``) and a test checks it is; the defaults are written only here.
The notebook's next cell, ``cfg = nb.setup(StyleTransfer, globals())``, reads
the variables back, checks them all at once, applies smoke mode, seeds and
makes the output folder.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from gancore.workbook.notebook import (
    ParameterError,
    Rule,
    is_bool,
    is_str,
    non_negative_int,
    number,
    raise_if_any,
    validate,
)


def _int_rule(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{name} must be an int, got {value!r} ({type(value).__name__})")


DEFAULT_RULES: dict[type, Rule] = {bool: is_bool, str: is_str, int: _int_rule, float: number()}


def param(default: Any, help: str, rule: Rule | None = None, smoke: Any = None) -> Any:
    """A notebook parameter: its default, the comment shown in the parameters cell, the rule
    that checks it (default: its annotated type) and its value in smoke mode (numbers: at most
    this much; anything else: replaced)."""
    return field(default=default, metadata={"help": help, "rule": rule, "smoke": smoke})


@dataclass
class NotebookParams:
    """Parameters every notebook has. Subclasses add theirs and set ``notebook``."""

    notebook: ClassVar[str] = ""  # the notebook's stem, e.g. "05_style_transfer_cgan"
    # metrics.json keys a batch's summary shows for each run (dotted, * matches any part): a few, not all
    HEADLINE: ClassVar[tuple[str, ...]] = ()

    cpu_threads: int = param(0, "torch CPU threads (0: torch's default, all cores); 1 is faster on a CPU "
                                "shared with other jobs", non_negative_int)
    seed: int = param(0, "seeds every random choice: data splits, models, noise, batches", non_negative_int)
    # no "=" in a help text: papermill's parser would take the comment for an assignment
    smoke: bool = param(False, "a seconds-long run, used by the tests (the environment variable "
                               "GANCORE_SMOKE set to 1 forces it)")
    out_dir: str = param("runs/latest", "metrics.json and figures go here")

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        validate(**{f.name: (getattr(self, f.name), f.metadata.get("rule") or DEFAULT_RULES[hints[f.name]])
                    for f in fields(self)})
        raise_if_any(self.cross_checks())  # only once every value has the right type

    def cross_checks(self) -> list[str]:
        """Checks that involve several parameters; each failure is one message."""
        return []

    def smoked(self) -> "NotebookParams":
        """A copy sized for smoke mode: seconds, not minutes."""
        changes = {}
        for f in fields(self):
            small, value = f.metadata.get("smoke"), getattr(self, f.name)
            if small is None:
                continue
            numeric = isinstance(small, (int, float)) and not isinstance(small, bool)
            changes[f.name] = min(value, small) if numeric else small
        return dataclasses.replace(self, smoke=True, **changes)

    def changed(self) -> dict[str, tuple[Any, Any]]:
        """``{name: (default, value)}`` for every parameter that differs from its default."""
        return {f.name: (f.default, getattr(self, f.name)) for f in fields(self)
                if f.name not in ("smoke", "out_dir") and getattr(self, f.name) != f.default}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every parameter's default, by name."""
        return {f.name: f.default for f in fields(cls)}

    @classmethod
    def parameters_cell(cls) -> str:
        """The source of the notebook's ``parameters`` cell: the notebook's own parameters, then
        those of mixins it inherits (such as the levers), then the shared ones, each
        ``name: type = default  # help``."""
        hints = typing.get_type_hints(cls)
        shared = {f.name for f in fields(NotebookParams)}
        own = [f for f in fields(cls) if f.name not in shared and f.name in vars(cls)]  # declared in cls
        ordered = own + [f for f in fields(cls) if f.name not in shared and f not in own] + \
            [f for f in fields(cls) if f.name in shared]
        lines = [f"# Parameters (papermill: -p NAME VALUE). Generated from {cls.__module__}.{cls.__name__}:",
                 "# change defaults there and run `make params`; change values here for one run."]
        for f in ordered:
            literal = json.dumps(f.default) if isinstance(f.default, str) else repr(f.default)
            lines.append(f"{f.name}: {hints[f.name].__name__} = {literal}  # {f.metadata['help']}")
        return "\n".join(lines)

    @classmethod
    def from_namespace(cls, namespace: dict) -> "NotebookParams":
        """The parameters found in ``namespace`` (a notebook's globals()), checked."""
        return cls(**{f.name: namespace[f.name] for f in fields(cls) if f.name in namespace})


def write_parameters_cells(notebook_dir=None) -> list:
    """Regenerate every notebook's ``parameters`` cell from its class (``make params``);
    returns the notebooks that changed."""
    import nbformat

    from gancore.experiments import NOTEBOOKS, params_class
    from gancore.paths import project_root

    folder = notebook_dir or project_root() / "notebooks"
    changed = []
    for stem in NOTEBOOKS:
        path = folder / f"{stem}.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        cell = next(c for c in nb.cells if c.cell_type == "code")
        source = params_class(stem).parameters_cell()
        if cell.source != source:
            cell.source = source
            nbformat.write(nb, str(path))
            changed.append(path)
    return changed


if __name__ == "__main__":
    for path in write_parameters_cells():
        print(f"rewrote the parameters cell of {path}")
