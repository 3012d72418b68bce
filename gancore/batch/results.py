"""The batch's results: one row per run, one CSV, a summary readable at a glance.

Columns: ``run``, ``notebook``, ``status`` (ok, failed, timeout, interrupted, running, pending),
``seconds``, the parameters the batch set, ``metrics.<key>`` for every scalar in the run's
metrics.json (nested keys joined by dots), ``time.<stage>`` (startup, kernel, cells, html),
``made_with.<what>`` (gancore's source digest, git commit and dirty flag, torch, numpy and
papermill versions: :func:`gancore.batch.provenance.made_with`), ``error``, ``failed_cell``,
``traceback``, ``html`` (the HTML copy, from the output folder) and ``key`` (what a re-run compares).

A grid run into a folder that already has a table merges its rows into it (:func:`merge_table`):
rows of runs it did not run stay.
"""
from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import pandas as pd

from gancore.paths import atomic_write

TABLE = "results.csv"
FIRST = ["run", "notebook", "status", "seconds"]
LAST = ["error", "failed_cell", "traceback", "html", "key"]


def flatten(metrics: dict, prefix: str = "") -> dict:
    """{'a': {'b': 1}} -> {'a.b': 1}, keeping scalars only."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, (int, float, str, bool)) or value is None:
            flat[name] = value
    return flat


def row(result: dict) -> dict:
    """One run's result (see ``execute_run``) as a flat table row."""
    out = {"run": result["name"], "notebook": result["notebook"], "status": result["status"],
           "seconds": result.get("seconds")}
    out.update(result.get("parameters", {}))
    out.update(flatten(result.get("metrics") or {}, "metrics."))
    out.update(flatten(result.get("time") or {}, "time."))
    out.update(flatten(result.get("made_with") or {}, "made_with."))
    out.update({k: result.get(k, "") for k in LAST})
    return out


def table(results: list[dict]) -> pd.DataFrame:
    """Every run's row, parameters first, then metrics, times and errors."""
    return ordered(pd.DataFrame([row(r) for r in results]))


def ordered(df: pd.DataFrame) -> pd.DataFrame:
    """The columns in table order: parameters, metrics, times, made_with, then errors."""
    middle = [c for c in df.columns if c not in FIRST + LAST]
    groups = ("metrics.", "time.", "made_with.")
    middle.sort(key=lambda c: next((i + 1 for i, g in enumerate(groups) if c.startswith(g)), 0))  # stable
    return df[FIRST + middle + LAST]


def merge_table(df: pd.DataFrame, output: Path) -> pd.DataFrame:
    """``df`` merged into ``output``'s existing table: a run in both takes ``df``'s row, in the old
    row's place; runs only in the old table keep theirs; new runs come after. Without a readable
    table, ``df`` itself."""
    path = Path(output) / TABLE
    if not path.is_file():
        return df
    try:
        old = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError):
        return df
    if "run" not in old.columns or old.empty:
        return df
    new = df.set_index("run", drop=False)
    rows = [new.loc[r] if r in new.index else old_row for r, old_row in
            zip(old["run"], (row for _, row in old.iterrows()))]
    rows += [new.loc[r] for r in df["run"] if r not in set(old["run"])]
    merged = pd.DataFrame(rows).reset_index(drop=True)
    for col in FIRST + LAST:
        if col not in merged.columns:
            merged[col] = ""
    return ordered(merged)


MARKER = ".gancore-batch"  # in every output folder the batch wrote: only those may it move or delete


def mark(folder: Path) -> None:
    """Create ``folder`` if needed and mark it as a batch output folder."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER
    if not marker.is_file():
        marker.write_text("written by python -m gancore.batch; it may replace or delete this folder\n")


def is_batch_folder(folder: Path) -> bool:
    """Whether ``folder`` is a folder the batch wrote (it holds the marker file)."""
    return (Path(folder) / MARKER).is_file()


def write_table(df: pd.DataFrame, output: Path) -> Path:
    """``output/results.csv``, replaced atomically: a reader never sees half a table."""
    path = Path(output) / TABLE
    with atomic_write(path, "w") as fh:
        df.to_csv(fh, index=False)
    return path


def load(output: str | os.PathLike) -> pd.DataFrame:
    """The results table of a batch's output folder (``gancore.batch.load("runs/loss-sweep")``)."""
    from gancore.paths import resolve

    path = resolve(output)
    path = path if path.suffix == ".csv" else path / TABLE
    if not path.is_file():
        raise FileNotFoundError(f"no results table at {path}: run `python -m gancore.batch GRID.yaml` first")
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def headline_values(metrics: dict, patterns: tuple[str, ...]) -> dict:
    """The flattened metrics whose keys match ``patterns`` (``fd``, ``runs.*.modes_covered``)."""
    flat = flatten(metrics or {})
    return {k: v for p in patterns for k, v in flat.items() if fnmatch.fnmatchcase(k, p)}


def summary(results: list[dict], headlines: dict[str, tuple[str, ...]], seconds: float, output: Path) -> str:
    """One line per run (status, time, headline metrics or error, HTML), then the totals."""
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    name_width = max((len(r["name"]) for r in results), default=0)
    lines = []
    for r in results:
        if r["status"] == "ok":
            what = "  ".join(f"{k} {fmt(v)}" for k, v in headline_values(r.get("metrics"), headlines.get(r["notebook"], ())).items())
        else:
            what = (r.get("error") or "").splitlines()[0][:100] if r.get("error") else ""
            what += f"  [{r['failed_cell']}]" if r.get("failed_cell") else ""
        took = f"{r['seconds']:7.1f} s" if isinstance(r.get("seconds"), (int, float)) else " " * 9
        lines.append(f"{r['status']:<11} {took}  {r['name']:<{name_width}}  {what}  {_short(output / r['html']) if r.get('html') else ''}".rstrip())
    counts = pd.Series([r["status"] for r in results]).value_counts()
    lines.append(f"{len(results)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items())
                 + f", in {seconds:.0f} s; full table: {_short(Path(output) / TABLE)}")
    return "\n".join(lines)


def _short(path) -> str:
    """A path relative to the current folder when it lies below it."""
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def last_seconds(output: str | os.PathLike) -> dict[str, float]:
    """{run: seconds} of the runs that finished ``ok`` in ``output``'s results table; {} without one
    (or with one that cannot be read: it only orders runs, so it must never stop a batch)."""
    path = Path(output) / TABLE
    try:
        df = pd.read_csv(path)
        done = df[df["status"] == "ok"]
        return {str(run): float(sec) for run, sec in zip(done["run"], done["seconds"])}
    except (OSError, ValueError, KeyError, pd.errors.ParserError):
        return {}

