"""Live progress of a batch: a bar over the runs, and for each running notebook its cell and step.

    [#######-------------]  3/9 done: 2 ok, 1 failed | 2 running | 4 waiting | 1:52
      03_mnist_baseline/loss=hinge,seed=1   0:41  cell 14/38 trainer.fit(steps, ...)  step 820/2000

On a terminal the block is redrawn in place; in a log (no terminal) each finished run is one
line, and the running ones are listed every ``log_every`` seconds. The cell comes from the
runner's ``.status-cell.json``, the step from the trainer's ``.status-train.json`` (see
:class:`gancore.train.callbacks.StatusFile`), both in the run's folder.
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from gancore.batch.run import CELL_STATUS, TRAIN_STATUS, read_json

DONE = ("ok", "failed", "timeout", "interrupted")


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class Board:
    def __init__(self, folders: dict[str, Path], stream=None, log_every: float = 30.0):
        self.folders, self.stream = folders, stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started, self.log_every, self.logged, self.drawn = time.time(), log_every, time.time(), 0

    def running(self, statuses: dict[str, str]) -> dict[str, str]:
        """``{run: what it is doing}`` for the runs started by this batch and not finished."""
        doing = {}
        for name, folder in self.folders.items():
            spec = read_json(folder / "run.json") if statuses.get(name) not in DONE else None
            if spec and spec.get("spawned", 0) >= self.started:
                doing[name] = self._activity(folder, spec["spawned"])
        return doing

    @staticmethod
    def _activity(folder: Path, spawned: float) -> str:
        text = _clock(time.time() - spawned) + "  "
        cell = read_json(folder / CELL_STATUS)
        if not cell:
            return text + "starting the kernel"
        if "stage" in cell:
            return text + cell["stage"]
        text += f"cell {cell['cell']}/{cell['cells']} {cell['source'][:40]}"
        step = read_json(folder / TRAIN_STATUS)
        if step and step.get("time", 0) >= cell["since"]:
            text += f"  step {step['step']}/{step['steps']}"
        return text

    def header(self, statuses: dict[str, str], running: int) -> str:
        values = list(statuses.values())
        done = sum(v in DONE for v in values)
        counts = ", ".join(f"{values.count(s)} {s}" for s in DONE if values.count(s))
        width = 20
        bar = "#" * round(width * done / max(len(values), 1))
        return (f"[{bar:-<{width}}] {done:>2}/{len(values)} done" + (f": {counts}" if counts else "")
                + f" | {running} running | {len(values) - done - running} waiting | {_clock(time.time() - self.started)}")

    def update(self, statuses: dict[str, str], finished: list[dict] = ()) -> None:
        """Redraw (terminal) or log the finished runs and, now and then, the running ones."""
        doing = self.running(statuses)
        if self.tty:
            lines = [self.header(statuses, len(doing))] + [f"  {n}  {what}" for n, what in doing.items()]
            width = shutil.get_terminal_size().columns - 1  # a wrapped line would break the redraw
            lines = [line[:width] for line in lines]
            for r in finished:  # finished runs scroll above the live block
                lines.insert(0, f"{r['status']:<11} {r.get('seconds') or 0:6.1f} s  {r['name']}")
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J" if self.drawn else "")
            self.stream.write("\n".join(lines) + "\n")
            self.drawn = len(lines) - len(finished)
        else:
            for r in finished:
                self.stream.write(f"{self.header(statuses, len(doing))}\n    {r['status']} {r.get('seconds') or 0:.1f} s  {r['name']}\n")
            if time.time() - self.logged >= self.log_every and doing:
                self.logged = time.time()
                self.stream.write(self.header(statuses, len(doing)) + "\n"
                                  + "".join(f"  {n}  {what}\n" for n, what in doing.items()))
        self.stream.flush()
