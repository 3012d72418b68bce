"""Run notebooks in batch, as ``make run`` and instructors do.

    python -m gancore.batch grids/03_loss_seed.yaml --workers 2        # a grid file (see gancore.batch.grid)
    python -m gancore.batch grids/05_loss_weights.yaml --smoke         # the same grid, seconds per run
    python -m gancore.batch GRID.yaml --scheduler tcp://host:8786      # on a Dask cluster
    python -m gancore.batch                                            # every notebook, defaults -> runs/latest
    python -m gancore.batch 03_mnist_baseline -p loss=hinge -p seed=3 --out runs/hinge

With notebook names (or none: all of them) each notebook runs once, and the whole batch is
written to a temporary folder that replaces ``--out`` only when every run succeeded (the old
results move to ``previous`` beside it), so a failed batch never destroys earlier results.
A grid file's output folder is filled in place instead: a re-run skips the runs that finished.
"""
from __future__ import annotations

import argparse
import ast
import logging
import shutil
import sys
import time
from datetime import datetime

from gancore.batch import run as run_module
from gancore.batch.grid import Grid, GridError, load_grid
from gancore.batch.notebooks import list_notebooks
from gancore.batch.results import last_seconds
from gancore.batch.sweep import report, run_grid
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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gancore.batch", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("targets", nargs="*", help="one grid file (.yaml), or notebooks by stem or prefix (default: all)")
    p.add_argument("--out", help="results folder (default: the grid's output, or runs/latest)")
    p.add_argument("--smoke", action="store_true", help="seconds-long smoke runs")
    p.add_argument("-p", "--param", action="append", type=_parse_param, default=[],
                   help="name=value injected into every run (with a grid file: added to its parameters)")
    p.add_argument("--workers", type=int, default=1, help="runs at once on this machine (default 1); "
                   "each gets cores / workers CPU threads")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786) to run on instead")
    p.add_argument("--force", action="store_true", help="re-run the runs that already finished")
    p.add_argument("--timeout", type=float, help="seconds before a run is stopped and marked timeout")
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
        grid.output = resolve(args.out) if args.out else grid.output
        replace = False
    else:
        if any(t.endswith((".yaml", ".yml")) for t in args.targets):
            raise GridError("give one grid file, or notebook names, not both")
        try:
            notebooks = list_notebooks(args.targets)
        except ValueError as exc:
            raise GridError(str(exc)) from None
        grid = Grid(notebooks, resolve(args.out or "runs/latest"), {**extra, **({"smoke": True} if args.smoke else {})})
        replace = True
    grid.timeout = args.timeout or grid.timeout
    grid.kernel = args.kernel or grid.kernel
    return grid.check(), replace


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        grid, replace = grid_from_args(args)
    except GridError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("papermill").setLevel(logging.CRITICAL)  # each run's error goes to its row instead
    start, final = time.perf_counter(), grid.output
    if replace:  # into a fresh folder beside the final one, swapped in only if every run succeeds
        grid.output = final.parent / f".partial-{final.name}-{datetime.now():%Y%m%d-%H%M%S}"
    results = run_grid(grid, workers=args.workers, scheduler=args.scheduler, force=args.force,
                       expected=last_seconds(final))  # the last batch's times, longest started first
    ok = all(r["status"] == "ok" for r in results)
    if replace:
        if ok:
            if final.exists():
                previous = final.parent / "previous"
                shutil.rmtree(previous, ignore_errors=True)
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
