"""Where and how computations run: one seed for everything, the device, CPU threads, the CPU model."""
from __future__ import annotations

import platform
import random
from contextlib import contextmanager

import numpy as np
import torch


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def as_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch.device; None means :func:`default_device`."""
    return torch.device(device) if device is not None else default_device()


@contextmanager
def cpu_threads(n: int | None):
    """Temporarily use ``n`` torch CPU threads (None: leave as is)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cpu_model() -> str:
    """The CPU's 'model name' from /proc/cpuinfo (what lscpu prints), else platform's guess: every
    timing a benchmark prints names it, because machines of one kind differ up to 3x in speed."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
