"""Callbacks: code that runs inside :meth:`gancore.Trainer.fit`, between generator steps.

A callback is any function ``callback(trainer) -> dict | None``::

    def score(trainer):                      # evaluate without disturbing training
        return evaluate_samples(trainer.generate(2000), reference, classifier)

    trainer.fit(16000, every=1000, callbacks=[score, TimeBudget(240)])
    trainer.evals                            # one row per evaluation: step, seconds, fd, score, eval_seconds

``fit`` calls them all before the first step of a fresh trainer, after every
``every``-th generator step and after its last step. What they return becomes one
row of ``trainer.evals``. A callback ends training early with
``trainer.request_stop(reason)``.

Callbacks cannot change the run: :func:`run_callbacks` restores every RNG the
training draws from (torch's global one, the trainer's noise and augmentation
generators) and the networks' train mode afterwards, and the training clock stops
while they run. So a run with callbacks trains bit for bit the same parameters as
one without (on CPU), and a resumed run still equals the uninterrupted one.
Randomness a callback needs comes from its own seeded generator
(``trainer.generate(n, seed=...)`` has one).
"""
from __future__ import annotations

import json
import math
import os
import time
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import torch

from gancore.paths import atomic_write

if TYPE_CHECKING:
    from gancore.train.trainer import Trainer

Callback = Callable[["Trainer"], "dict | None"]
RESERVED = ("step", "seconds", "eval_seconds")  # columns of trainer.evals that fit writes itself


def check_callbacks(callbacks: Iterable) -> list[Callback]:
    """``callbacks`` as a list, each one callable; else one TypeError naming the bad one."""
    if callable(callbacks):
        raise TypeError("callbacks must be a list of functions, got a single function; "
                        "write callbacks=[fn]")
    callbacks = list(callbacks)
    for i, fn in enumerate(callbacks):
        if not callable(fn):
            raise TypeError(f"callbacks[{i}] is a {type(fn).__name__}, not a function of the trainer")
    return callbacks


def run_callbacks(trainer: "Trainer", callbacks: Sequence[Callback]) -> tuple[float, float]:
    """Run every callback once, with the training RNGs and train modes restored afterwards.

    Their results (dicts) are merged into one row of ``trainer.eval_records`` together with
    ``step``, ``seconds`` (training seconds so far) and ``eval_seconds`` (this round's wall
    time); no row when every callback returns None. Returns the round's (wall, CPU) seconds,
    by which the caller moves its training clock on.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    rngs = (trainer.noise_rng, trainer.augment_rng)
    saved = [rng.get_state() for rng in rngs]
    devices = [trainer.device] if trainer.device.type == "cuda" else []
    results: dict = {}
    try:
        with torch.random.fork_rng(devices=devices):  # torch's global RNG, restored on exit
            for fn in callbacks:
                _merge(results, fn(trainer), fn)
    finally:
        for rng, state in zip(rngs, saved):
            rng.set_state(state)
        for model in (trainer.G, trainer.D):  # an evaluation may have left them in eval mode
            if model is not None:
                model.train()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if results:
        trainer.eval_records.append({"step": trainer.step, "seconds": trainer.train_seconds,
                                     **results, "eval_seconds": wall})
    return wall, cpu


def _merge(results: dict, returned, fn: Callback) -> None:
    name = getattr(fn, "__name__", type(fn).__name__)
    if returned is None:
        return
    if not isinstance(returned, dict):
        raise TypeError(f"callback {name} returned a {type(returned).__name__}; "
                        "return a dict of results (name -> value) or None")
    clash = sorted(set(returned) & (set(RESERVED) | set(results)))
    if clash:
        raise ValueError(f"callback {name} returned {clash}, names that fit writes itself "
                         f"({', '.join(RESERVED)}) or another callback already returned; rename them")
    results.update(returned)


def _positive_seconds(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


class TimeBudget:
    """Stop training once ``seconds`` of training (evaluations excluded) have passed.

    It checks when it is called, so use it with ``every=1`` to stop within one step.
    """

    def __init__(self, seconds: float):
        self.seconds = _positive_seconds("the time budget", seconds)

    def __call__(self, trainer: "Trainer") -> None:
        if trainer.train_seconds >= self.seconds:
            trainer.request_stop(f"time budget of {self.seconds:g} s of training reached")

    def __repr__(self) -> str:
        return f"TimeBudget({self.seconds:g})"


class AtTrainingSeconds:
    """Call ``fn(trainer)`` once the training clock first passes each of ``marks`` (seconds).

    With ``every=1`` this evaluates after 60, 120, 240 ... seconds of training, whatever the
    step rate; returns what ``fn`` returns at a mark, else None.
    """

    def __init__(self, marks: Iterable[float], fn: Callback):
        self.pending = sorted(_positive_seconds("every mark", m) for m in marks)
        self.fn, self.__name__ = fn, getattr(fn, "__name__", "AtTrainingSeconds")

    def __call__(self, trainer: "Trainer") -> dict | None:
        if not self.pending or trainer.train_seconds < self.pending[0]:
            return None
        while self.pending and trainer.train_seconds >= self.pending[0]:
            self.pending.pop(0)  # a slow step may pass two marks at once: one evaluation
        return self.fn(trainer)


class StatusFile:
    """The training step, for a batch's live display: ``{"step", "steps", "desc", "time"}`` written
    atomically to the file named by the environment variable ``GANCORE_STATUS_FILE`` (which
    ``python -m gancore.batch`` sets for each run), at most once every ``interval`` seconds and
    at the last step. Without that variable it does nothing. It reads no RNG and touches no model.
    """

    def __init__(self, steps: int, desc: str, interval: float = 1.0):
        self.path, self.steps, self.desc, self.interval = os.environ.get("GANCORE_STATUS_FILE"), steps, desc, interval
        self.last = -math.inf

    def update(self, step: int) -> None:
        now = time.time()
        if self.path and (now - self.last >= self.interval or step >= self.steps):
            self.last = now
            with atomic_write(self.path, "w") as fh:
                json.dump({"step": step, "steps": self.steps, "desc": self.desc, "time": now}, fh)
