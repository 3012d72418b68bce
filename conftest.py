"""Test-wide environment, set before any notebook kernel starts.

Notebooks under nbval run in smoke mode, offline, writing to a temporary
folder, so `make test` never touches runs/latest or the network.
"""
import os
import tempfile

os.environ.setdefault("GANCORE_SMOKE", "1")
os.environ.setdefault("GANCORE_OFFLINE", "1")
os.environ.setdefault("GANCORE_OUT_DIR", tempfile.mkdtemp(prefix="gancore-nbval-"))
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):  # a pytest-xdist worker per core: one thread each, its kernels included
    os.environ.setdefault("OMP_NUM_THREADS", "1")
