"""Run notebooks in batch, as ``make run`` and instructors do.

    python -m gancore.batch grids/03_loss_seed.yaml --workers 2        # a grid file (see gancore.batch.grid)
    python -m gancore.batch grids/05_loss_weights.yaml --smoke         # the same grid, seconds per run
    python -m gancore.batch GRID.yaml --scheduler tcp://host:8786      # on a Dask cluster
    python -m gancore.batch                                            # every notebook, defaults -> runs/latest
    python -m gancore.batch 03_mnist_baseline -p loss=hinge -p seed=3 --out runs/hinge

With notebook names (or none: all of them) each notebook runs once, and the whole batch is
written to a temporary folder that replaces ``--out`` only when every run succeeded (the old
results move to ``<out>.previous`` beside it, replacing the one before), so a failed batch never
destroys earlier results. The batch marks every folder it writes with a ``.gancore-batch``
file, and never moves or deletes a folder without one: an ``--out`` (or its ``.previous``)
that holds something else stops the batch before it starts. A relative ``--out`` is taken from
the current folder.

A grid file's output folder is filled in place instead: a re-run skips the runs that finished,
and its rows are merged into the folder's results.csv. ``--dry-run`` lists the runs in the
order they would start, and which would be skipped and why, and runs nothing.

Options are checked before anything runs: a bad one is one message and exit status 2 (1: a
run failed; 130: stopped by Ctrl-C).
"""
from __future__ import annotations

import argparse
import ast
import logging
import math
import shutil
import socket
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from gancore.batch import run as run_module
from gancore.batch.grid import Grid, GridError, load_grid
from gancore.batch.notebooks import list_notebooks
from gancore.batch.results import MARKER, is_batch_folder, last_seconds
from gancore.batch.sweep import describe_plan, plan, report, run_grid
from gancore.paths import resolve
from gancore.workbook.notebook import smoke_mode


def _parse_param(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"parameter {text!r} must look like name=value")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word is a string: loss=hinge
    return name, value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of runs at once >= 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be seconds > 0, got {text!r}; leave it out for no timeout")
    return value


def _scheduler(text: str) -> str:
    """A Dask scheduler address ``scheme://host:port`` that answers a connection."""
    bad = argparse.ArgumentTypeError(f"{text!r} is not a scheduler address; write tcp://host:8786")
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise bad from None
    if not parts.scheme or not host or not port or parts.path not in ("", "/"):
        raise bad
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"no Dask scheduler answers at {text} ({exc}); start one with "
                                         "`dask scheduler`, or leave --scheduler out to run here") from None
    return text


def _out(text: str) -> Path:
    """``--out`` from the current folder; refused when a file stands where a folder must be."""
    path = Path(text).expanduser().absolute()
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                raise GridError(f"--out {text}: {folder} is a file, not a folder; choose another --out")
            break
    return path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gancore.batch", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("targets", nargs="*", help="one grid file (.yaml), or notebooks by stem or prefix (default: all)")
    p.add_argument("--out", help="results folder (default: the grid's output, or runs/latest)")
    p.add_argument("--smoke", action="store_true", help="seconds-long smoke runs")
    p.add_argument("-p", "--param", action="append", type=_parse_param, default=[],
                   help="name=value injected into every run (with a grid file: added to its parameters)")
    p.add_argument("--workers", type=_workers, default=1, help="runs at once on this machine (default 1); "
                   "each gets cores / workers CPU threads")
    p.add_argument("--scheduler", type=_scheduler,
                   help="address of a running Dask scheduler (tcp://host:8786) to run on instead")
    p.add_argument("--force", action="store_true", help="re-run the runs that already finished")
    p.add_argument("--timeout", type=_seconds, help="seconds before a run is stopped and marked timeout")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs in the order they would start, which would be skipped and why; run nothing")
    p.add_argument("--kernel", help="Jupyter kernel (default python3)")
    return p


def grid_from_args(args) -> tuple[Grid, bool]:
    """The grid the command line asks for, and whether it replaces its output folder atomically."""
    extra = dict(args.param)
    args.smoke = smoke_mode(args.smoke)  # see load_grid
    if len(args.targets) == 1 and args.targets[0].endswith((".yaml", ".yml")):
        grid = load_grid(args.targets[0], smoke=args.smoke)
        clash = sorted(set(extra) & (set(grid.grid) | set(grid.zip)))
        if clash:
            raise GridError(f"{grid.source}: -p {clash} would override the grid's own lists")
        grid.parameters.update(extra)
        grid.output = _out(args.out) if args.out else _out(str(grid.output))
        replace = False
    else:
        if any(t.endswith((".yaml", ".yml")) for t in args.targets):
            raise GridError("give one grid file, or notebook names, not both")
        try:
            notebooks = list_notebooks(args.targets)
        except ValueError as exc:
            raise GridError(str(exc)) from None
        out = _out(args.out) if args.out else _out(str(resolve("runs/latest")))
        grid = Grid(notebooks, out, {**extra, **({"smoke": True} if args.smoke else {})})
        replace = True
    grid.timeout = args.timeout or grid.timeout
    grid.kernel = args.kernel or grid.kernel
    return grid.check(), replace


def previous_of(final: Path) -> Path:
    """Where ``final``'s results go when a new batch replaces them: ``<final>.previous``."""
    return final.with_name(final.name + ".previous")


def check_replaceable(final: Path) -> None:
    """GridError unless the batch may move ``final`` and delete its ``.previous``: each is absent,
    or a folder the batch wrote (it holds the marker)."""
    for folder in (final, previous_of(final)):
        if folder.exists() and not (folder.is_dir() and is_batch_folder(folder)):
            raise GridError(f"{folder} was not written by gancore.batch (it has no {MARKER} file), and a "
                            f"successful batch would {'move' if folder == final else 'delete'} it; choose another "
                            f"--out, or move {folder} away yourself")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        grid, replace = grid_from_args(args)
        if replace:
            check_replaceable(grid.output)
    except GridError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        expected = last_seconds(grid.output)
        if replace:  # every run goes to a fresh folder: nothing is skipped
            print(describe_plan([(r, None, "run (a batch of notebooks runs each into a fresh folder)")
                                 for r, _, _ in plan(grid, True, expected)], grid))
        else:
            print(describe_plan(plan(grid, args.force, expected), grid))
        return 0
    logging.getLogger("papermill").setLevel(logging.CRITICAL)  # each run's error goes to its row instead
    start, final = time.perf_counter(), grid.output
    if replace:  # into a fresh folder beside the final one, swapped in only if every run succeeds
        grid.output = final.parent / f".partial-{final.name}-{datetime.now():%Y%m%d-%H%M%S}"
    try:
        results = run_grid(grid, workers=args.workers, scheduler=args.scheduler, force=args.force,
                           expected=last_seconds(final))  # the last batch's times, longest started first
    except (OSError, ImportError, RuntimeError) as exc:  # the workers could not start: nothing ran
        if replace and grid.output.is_dir() and is_batch_folder(grid.output):
            shutil.rmtree(grid.output)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ok = all(r["status"] == "ok" for r in results)
    if replace:
        if ok:
            if final.exists():
                previous = previous_of(final)
                try:
                    check_replaceable(final)  # again: something else may have been put there meanwhile
                except GridError as exc:
                    print(f"error: {exc}; this batch's results are in {grid.output}", file=sys.stderr)
                    return 2
                if previous.exists():
                    shutil.rmtree(previous)
                final.rename(previous)
            grid.output.rename(final)
        else:
            failed = final.parent / grid.output.name.replace(".partial-", "failed-")
            grid.output.rename(failed)
            print(f"not every run succeeded; {final} was left as it was, this batch is in {failed}", file=sys.stderr)
            final = failed
        grid.output = final
    report(results, grid, time.perf_counter() - start)
    return 0 if ok else 130 if run_module.STOP.is_set() else 1
