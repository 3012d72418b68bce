"""Run a grid: skip what already finished, submit the rest, keep the table current, stop cleanly.

    table = run_grid(load_grid("grids/03_loss_seed.yaml"), workers=2)

A run whose folder holds an ``ok`` result with the same key (a hash of the notebook's bytes, the
parameters and gancore's source) is not run again; failed, timed-out and interrupted ones are
(``force``: all); :func:`plan` says which and why (``--dry-run``). Runs start longest first by
the seconds each took last time (``expected``), or else by the seconds its notebook is expected
to take (:data:`gancore.batch.notebooks.EXPECTED_SECONDS`, shipped, so the longest start first
on a fresh clone too), so that on a few workers the longest does not start last and run alone;
runs with no estimate start first, the rest in grid order. The table (``output/results.csv``)
is rewritten atomically after every run, merged with the rows of runs it did not run. Ctrl-C or SIGTERM
stop the batch: running notebooks are stopped and marked ``interrupted``, runs not started stay
``pending``, finished results are kept; the next run of the grid picks up from there.
"""
from __future__ import annotations

import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from gancore.batch import run as run_module
from gancore.batch.executors import dask_cluster, local_workers
from gancore.batch.grid import Grid, Run
from gancore.batch.notebooks import EXPECTED_SECONDS, headline
from gancore.batch.progress import Board
from gancore.batch.results import last_seconds, mark, merge_table, summary, table, write_table
from gancore.batch.run import RESULT, execute_run, read_json


def run_grid(grid: Grid, workers: int = 1, scheduler: str | None = None, force: bool = False,
             stream=None, expected: dict[str, float] | None = None) -> list[dict]:
    """Run every run of ``grid``; returns the results (one dict per run, in grid order), also in
    ``grid.output/results.csv``. :func:`report` prints them. ``expected``: {run name: seconds it
    took before} (default: this output's own table), for the order in which runs start."""
    stream = stream or sys.stderr
    runs = grid.runs()
    planned = plan(grid, force, expected)
    results = {r.name: cached or _placeholder(r, "pending") for r, cached, _ in planned}
    todo = [r for r, cached, _ in planned if cached is None]
    skipped = len(runs) - len(todo)
    run_module.STOP.clear()
    with (dask_cluster(scheduler) if scheduler else local_workers(workers)) as slots, _stop_on_signals():
        mark(grid.output)  # only once the workers are there: a batch that cannot start leaves no folder
        stream.write(f"{len(runs)} runs into {grid.output}" + (f" ({skipped} already done, skipped)" if skipped else "")
                     + f"; {slots.where}\n")
        board = Board({r.name: grid.output / r.name for r in runs}, stream)
        pending = {slots.executor.submit(execute_run, _spec(grid, r, slots.threads)): r for r in todo}
        while pending:
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            finished = [_outcome(future, pending.pop(future)) for future in done]
            for res in finished:
                results[res["name"]] = res
            if finished:
                write_table(merge_table(table(_with_running(results, board)), grid.output), grid.output)
            board.update({n: r["status"] for n, r in results.items()}, finished)
            if run_module.STOP.is_set():
                for future in list(pending):
                    if future.cancel():  # not started: stays pending
                        pending.pop(future)
                wait(pending, timeout=run_module.GRACE_SECONDS + 30)
                for future, r in pending.items():
                    results[r.name] = _outcome(future, r) if future.done() else \
                        _placeholder(r, "interrupted", "stopped by Ctrl-C or SIGTERM")
                pending = {}
    ordered = [results[r.name] for r in runs]
    write_table(merge_table(table(ordered), grid.output), grid.output)
    return ordered


def plan(grid: Grid, force: bool = False, expected: dict[str, float] | None = None) -> list[tuple]:
    """``(run, earlier result or None, why)`` for every run, in the order they would start: the runs
    to do first (longest expected first), then those skipped (with their earlier ``ok`` result).
    ``expected``: {run name: seconds} (default: this output's own table)."""
    expected = last_seconds(grid.output) if expected is None else expected
    rows = []
    for run in grid.runs():
        old = read_json(grid.output / run.name / RESULT)
        if force:
            why = "--force: every run runs again"
        elif not old:
            why = "new: no earlier result in this folder"
        elif old.get("key") != run.key:
            why = "stale: its notebook, parameters or gancore's source changed since it ran"
        elif old.get("status") != "ok":
            why = f"its last try ended {old.get('status')}"
        else:
            rows.append((run, old, "skip: finished ok with the same notebook, parameters and gancore source"))
            continue
        rows.append((run, None, f"run ({why})"))

    def seconds(run: Run) -> float:
        return expected.get(run.name, EXPECTED_SECONDS.get(run.notebook.stem, float("inf")))

    todo = sorted((r for r in rows if r[1] is None), key=lambda r: -seconds(r[0]))  # stable: ties keep grid order
    return todo + [r for r in rows if r[1] is not None]


def describe_plan(planned: list[tuple], grid: Grid) -> str:
    """What ``--dry-run`` prints: every run in the order it would start, and why it runs or is skipped."""
    width = max((len(r.name) for r, _, _ in planned), default=0)
    lines = [f"{r.name:<{width}}  {why}" for r, _, why in planned]
    todo = sum(1 for _, cached, _ in planned if cached is None)
    lines.append(f"{len(planned)} runs into {grid.output}: {todo} would run, {len(planned) - todo} skipped "
                 "(dry run: nothing was started or written)")
    return "\n".join(lines)


def report(results: list[dict], grid: Grid, seconds: float, stream=None) -> None:
    """The summary: one line per run, then the totals and where the table is."""
    (stream or sys.stdout).write(summary(results, {nb.stem: headline(nb.stem) for nb in grid.notebooks},
                                         seconds, grid.output) + "\n")


def _spec(grid: Grid, run: Run, threads: int) -> dict:
    """What ``execute_run`` needs, as plain data (it may travel to a Dask worker)."""
    parameters = dict(run.parameters)
    if "cpu_threads" in _declared(run.notebook) and "cpu_threads" not in parameters:
        parameters["cpu_threads"] = threads  # only notebooks that have it; not part of the key
    return {"name": run.name, "notebook": str(run.notebook), "folder": str(grid.output / run.name),
            "parameters": parameters, "kernel": grid.kernel, "timeout": grid.timeout, "threads": threads,
            "key": run.key, "output": str(grid.output)}


@cache
def _declared(notebook: Path) -> dict:
    import papermill as pm

    return pm.inspect_notebook(str(notebook))


def _placeholder(run: Run, status: str, error: str = "") -> dict:
    return {"name": run.name, "notebook": run.notebook.stem, "status": status, "parameters": run.parameters,
            "error": error, "key": run.key}


def _outcome(future, run: Run) -> dict:
    """The future's result, or a failed row when the run function itself broke (a lost Dask worker)."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - recorded; the batch goes on
        return _placeholder(run, "failed", f"{type(exc).__name__}: {exc}")


def _with_running(results: dict, board: Board) -> list[dict]:
    doing = board.running({n: r["status"] for n, r in results.items()})
    return [{**r, "status": "running"} if n in doing else r for n, r in results.items()]


@contextmanager
def _stop_on_signals():
    """Ctrl-C and SIGTERM set :data:`gancore.batch.run.STOP` instead of killing the batch midway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        if not run_module.STOP.is_set():
            sys.stderr.write(f"\n{signal.Signals(signum).name}: stopping the running notebooks "
                             "(they will be marked interrupted)...\n")
        run_module.STOP.set()

    before = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
