"""Where runs execute: local worker threads (each run is its own process) or a Dask cluster.

Both are ``concurrent.futures`` executors, so the batch only ever calls ``submit(execute_run, spec)``.
Each also says how many runs it holds at once and how many CPU threads each run may use, so
that runs side by side never oversubscribe the cores (two threads that wait for busy cores can
be several times slower than one).
"""
from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import NamedTuple


class Slots(NamedTuple):
    executor: Executor
    workers: int  # runs at once
    threads: int  # CPU threads per run
    where: str  # for the log


def available_cores() -> int:
    """The cores this process may use (its CPU affinity, which containers narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def plan_threads(workers: int, cores: int) -> tuple[int, int]:
    """``(workers, threads per run)`` with workers × threads ≤ cores: more workers than cores
    would oversubscribe even at one thread each, so they are cut to the cores."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    workers = min(workers, cores)
    return workers, max(1, cores // workers)


@contextmanager
def local_workers(workers: int) -> Iterator[Slots]:
    """``workers`` runs at once on this machine."""
    workers, threads = plan_threads(workers, available_cores())
    with ThreadPoolExecutor(workers, thread_name_prefix="gancore-run") as pool:
        yield Slots(pool, workers, threads, f"{workers} local worker(s) × {threads} thread(s)")


@contextmanager
def dask_cluster(address: str) -> Iterator[Slots]:
    """An existing Dask cluster at ``address`` (``tcp://host:8786``): one run per worker thread,
    each with the cores of its machine shared among the runs that machine holds at once."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("--scheduler needs dask.distributed: pip install -e '.[cluster]'") from None
    try:
        client = Client(address, timeout="15s")
    except OSError as exc:
        raise OSError(f"no Dask scheduler answers at {address}: {exc}") from None
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        if not workers:
            raise RuntimeError(f"the Dask cluster at {address} has no workers")
        cores = client.run(available_cores)  # {worker address: cores of its machine}
        slots_on, cores_on = defaultdict(int), defaultdict(int)
        for addr, info in workers.items():
            slots_on[info["host"]] += info["nthreads"]
            cores_on[info["host"]] = max(cores_on[info["host"]], cores.get(addr, 1))
        threads = min(plan_threads(slots_on[h], cores_on[h])[1] for h in slots_on)
        slots = sum(slots_on.values())
        yield Slots(client.get_executor(pure=False), slots, threads,
                    f"Dask at {address}: {len(workers)} worker(s), {slots} run(s) at once × {threads} thread(s)")
    finally:
        client.close()
