"""One run: the function every back end submits.

``execute_run(spec)`` executes one notebook with papermill into the run's folder, its kernel a
process of its own that starts in the notebook's folder with the run's environment (CPU
threads, the trainer's status file); then writes an HTML copy that opens offline (also for a
failed run: it shows where it stopped) and returns the run's row (status, seconds, error, the
failed cell, metrics, the time each stage took, what made it: gancore's source, git commit,
library versions), which it also leaves in ``result.json``.
The same function runs in a local worker thread or on a Dask worker.

A run stops early when its timeout passes or :data:`STOP` is set (Ctrl-C or SIGTERM to the
batch): its kernel gets SIGTERM, then SIGKILL, and the run is marked ``timeout`` or
``interrupted``, never ``ok``. While it runs, ``.status-cell.json`` names the cell being
executed and the trainer writes its step to ``.status-train.json``
(:class:`gancore.train.callbacks.StatusFile`).
"""
from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import traceback
from pathlib import Path

from gancore.batch.provenance import made_with
from gancore.paths import atomic_write

STOP = threading.Event()  # set by the batch on Ctrl-C / SIGTERM
GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL to a kernel
RESULT, CELL_STATUS, TRAIN_STATUS = "result.json", ".status-cell.json", ".status-train.json"


def execute_run(spec: dict) -> dict:
    """Run ``spec`` (name, notebook, folder, output, parameters, kernel, timeout, threads, key) to its end."""
    import papermill as pm

    folder, notebook = Path(spec["folder"]), Path(spec["notebook"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (RESULT, CELL_STATUS, TRAIN_STATUS, "metrics.json"):  # a retried run starts clean
        (folder / stale).unlink(missing_ok=True)
    started = time.time()
    write_json(folder / "run.json", {**spec, "spawned": started})
    env = {**os.environ, "GANCORE_STATUS_FILE": str(folder / TRAIN_STATUS)}
    env.pop("GANCORE_OUT_DIR", None)  # it would send every run's outputs to one folder
    if spec.get("threads"):  # numpy and BLAS too, in notebooks with or without a cpu_threads parameter
        env.update(OMP_NUM_THREADS=str(spec["threads"]), MKL_NUM_THREADS=str(spec["threads"]))
    kernel = _KernelPid()
    watch = _Watchdog(kernel, spec.get("timeout"), started)
    result = {"status": "ok", "error": "", "failed_cell": "", "traceback": "", "html": ""}
    executed = folder / notebook.name
    try:
        with open(folder / "kernel.log", "w") as log:  # the kernel's own messages, kept out of the batch's display
            pm.execute_notebook(str(notebook), str(executed), parameters={**spec["parameters"], "out_dir": str(folder)},
                                kernel_name=spec["kernel"], progress_bar=False, engine_name=_register_engine(),
                                kernel_manager_class=_kernel_manager({"env": env, "cwd": str(notebook.parent),
                                                                          "stdout": log, "stderr": log}, kernel),
                                status_file=str(folder / CELL_STATUS))
    except pm.PapermillExecutionError as exc:
        first = next((line for line in exc.source.splitlines() if line.strip()), "")
        result.update(status="failed", error=f"{exc.ename}: {exc.evalue}", traceback=tail("\n".join(exc.traceback)),
                      failed_cell=f"In [{exc.exec_count}]: {first[:100]}")
    except Exception as exc:  # noqa: BLE001 - a dead kernel, a missing kernel spec: recorded, the batch goes on
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500], traceback=tail(traceback.format_exc()))
    finally:
        watch.done.set()
    if watch.stopped:
        result.update(status=watch.stopped, error="stopped by Ctrl-C or SIGTERM" if watch.stopped == "interrupted"
                      else f"ran past its timeout of {spec['timeout']:g} s")
    result["time"] = {"papermill": time.time() - started}
    if executed.is_file():
        result["time"].update(_notebook_times(executed))
        html_start = time.time()
        write_json(folder / CELL_STATUS, {"stage": "writing the HTML copy", "since": html_start})
        try:
            from gancore.workbook.report import export_html

            result["html"] = os.path.relpath(export_html(executed), spec["output"])
        except Exception as exc:  # noqa: BLE001
            if result["status"] == "ok":
                result.update(status="failed", error=f"HTML export: {type(exc).__name__}: {exc}"[:500],
                              traceback=tail(traceback.format_exc()))
        result["time"]["html"] = time.time() - html_start
    result = {"name": spec["name"], "notebook": notebook.stem, "key": spec["key"], "parameters": spec["parameters"],
              **result, "metrics": read_json(folder / "metrics.json") or {}, "seconds": time.time() - started,
              "made_with": made_with()}
    write_json(folder / RESULT, result)
    for status in (CELL_STATUS, TRAIN_STATUS):  # live only while the run is
        (folder / status).unlink(missing_ok=True)
    return result


class _KernelPid:
    """The run's kernel process, once started (the watchdog stops it)."""
    pid: int | None = None


def _kernel_manager(launch: dict, kernel: _KernelPid):
    """nbclient's kernel manager, starting this run's kernel with ``launch`` (env, cwd, where its
    output goes). (papermill's own ``cwd`` changes the whole process's folder, which runs side by
    side in threads cannot share.)"""
    from jupyter_client import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            await super().start_kernel(**{**kw, **launch})
            kernel.pid = self.provisioner.pid

    return RunKernelManager


class _Watchdog(threading.Thread):
    """Stops the kernel when :data:`STOP` is set or the timeout passes; ``stopped`` says which."""

    def __init__(self, kernel: _KernelPid, timeout: float | None, started: float):
        super().__init__(daemon=True)
        self.kernel, self.timeout, self.started = kernel, timeout, started
        self.done, self.stopped = threading.Event(), None
        self.start()

    def run(self):
        while not self.done.wait(0.25):
            reason = "interrupted" if STOP.is_set() else \
                "timeout" if self.timeout and time.time() - self.started > self.timeout else None
            if reason and self.kernel.pid:
                self.stopped = reason
                _end(self.kernel.pid, self.done)
                return


def _end(pid: int, done: threading.Event) -> None:
    """SIGTERM, then SIGKILL if the kernel is still there after the grace period. The kernel leads
    a process group of its own: whatever it started (data loader workers) goes with it."""
    for sig, wait in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, 0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if done.wait(wait):
            return


def _status_engine():
    """papermill's nbclient engine, which also writes the current cell to the run's status file."""
    from papermill.engines import NBClientEngine

    class StatusEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, status_file=None, **kwargs):
            code = [i for i, c in enumerate(nb_man.nb.cells) if c.cell_type == "code"]
            start = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index in code:
                    first = next((line for line in cell.source.splitlines() if line.strip()), "")
                    write_json(Path(status_file), {"cell": code.index(cell_index) + 1, "cells": len(code),
                                                   "source": first[:80], "since": time.time()})
                return start(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return StatusEngine


def _register_engine() -> str:
    from papermill.engines import papermill_engines

    papermill_engines.register("gancore-status", _status_engine())
    return "gancore-status"


def _notebook_times(executed: Path) -> dict:
    """Seconds in the notebook's cells, and the rest of papermill's run: mostly the kernel's start."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    total = nb.metadata.get("papermill", {}).get("duration") or 0.0
    cells = sum(c.metadata.get("papermill", {}).get("duration") or 0.0 for c in nb.cells)
    return {"cells": cells, "kernel": max(total - cells, 0.0)}


def tail(text: str, lines: int = 12) -> str:
    """The last ``lines`` lines, colour codes removed."""
    return "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", text).rstrip().splitlines()[-lines:])


def write_json(path: Path, data: dict) -> None:
    with atomic_write(path, "w") as fh:
        json.dump(data, fh, indent=1, default=str)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
