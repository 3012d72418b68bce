"""JupyterLab started as `make lab` starts it, for the tests: the Makefile's own command line (read
with `make -n`), on loopback, a free port and a token; stopped afterwards whatever happened.

    with running_lab(tmp_path, root=folder, env={"GANCORE_SMOKE": "1"}) as lab:
        http_get(lab.url("api/kernelspecs"))

Used by test_make_lab.py (the server itself) and, through the ``jupyterlab`` fixture in
tests/conftest.py, by the browser tests.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gancore.paths import project_root

ROOT = project_root()
VENV = Path(sys.executable).parent.parent  # the environment running the tests stands in for .venv
TOKEN = "gancore-test-token"


def make_lab_lines(tmp_path: Path, uid: int) -> list[str]:
    """What `make lab` would run, as the user ``uid`` (a stand-in `id` first on PATH)."""
    fake_bin = tmp_path / f"uid{uid}"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (fake_bin / "id").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["make", "-s", "-n", "lab", f"VENV={VENV}", "-o", f"{VENV}/.gancore-installed"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def lab_command(lines: list[str]) -> list[str]:
    commands = [line for line in lines if "jupyter lab" in line]
    assert len(commands) == 1, lines
    return shlex.split(commands[0])


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


@dataclass
class Lab:
    base: str  # http://127.0.0.1:PORT
    token: str
    root: Path  # the server's folder (make lab: the project; browser tests: a copy)
    log: Path
    env: dict = field(default_factory=dict)  # set over the tests' environment (GANCORE_OUT_DIR: the outputs)

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def get_json(self, path: str) -> dict:
        status, body = http_get(self.url(path))
        assert status == 200, (path, status)
        return json.loads(body)

    def kernel_state(self, path: str) -> str | None:
        """'starting', 'idle', 'busy', ... of the kernel of the notebook ``path``; None: it has none."""
        states = [s["kernel"]["execution_state"] for s in self.get_json("api/sessions")
                  if s["path"] == path and s.get("kernel")]
        return states[0] if states else None


def _kernels_of(runtime_dir: Path) -> list[int]:
    """Kernels this server started: their command line names a connection file in its runtime folder."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(runtime_dir).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            pass
    return pids


def _stop(server: subprocess.Popen, lab: Lab, runtime_dir: Path) -> None:
    """Shut the kernels down through the API, then SIGTERM the server. Past 10 s, SIGKILL its process
    group and any kernel left (jupyter_client starts kernels in sessions of their own, outside the group)."""
    if server.poll() is None:
        try:
            for session in lab.get_json("api/sessions"):
                urllib.request.urlopen(urllib.request.Request(lab.url(f"api/sessions/{session['id']}"),
                                                              method="DELETE"), timeout=10)
        except (OSError, AssertionError):  # the server is failing already: the signals below stop it
            pass
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    for pid in _kernels_of(runtime_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def running_lab(tmp_path: Path, root: Path = ROOT, env: dict | None = None, timeout: float = 120):
    """`make lab`'s JupyterLab serving ``root``, started in a process group of its own, with ``env``
    over the test's environment (a value None unsets); yields a :class:`Lab` once /lab answers 200."""
    port = free_loopback_port()
    command = lab_command(make_lab_lines(tmp_path, os.getuid())) + [
        "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.port_retries=0"]
    runtime_dir = tmp_path / "runtime"
    lab = Lab(f"http://127.0.0.1:{port}", TOKEN, root, tmp_path / "lab.log", dict(env or {}))
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime_dir), **lab.env}
    env = {name: value for name, value in env.items() if value is not None}  # None: unset it
    with open(lab.log, "w") as log:
        server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            status, deadline = None, time.monotonic() + timeout
            while status != 200 and time.monotonic() < deadline and server.poll() is None:
                try:
                    status, _ = http_get(lab.url("lab"))
                except OSError:  # not listening yet
                    pass
                time.sleep(0.3)
            assert status == 200, lab.log.read_text()[-3000:]
            yield lab
        finally:
            _stop(server, lab, runtime_dir)


# JupyterLab's user settings for the browser tests: no "get notified about Jupyter news?" pop-up over
# the notebook and no update check (both would ask the network); no autosave (the copy is thrown away
# anyway); every cell attached to the page, so that a cell far down is there to be found.
QUIET_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def lab_copy(tmp_path: Path, notebooks: list[Path]) -> tuple[Path, dict]:
    """A folder laid out like the project (``notebooks/``) holding copies of ``notebooks``, so that
    nothing JupyterLab saves (autosave, widget state) reaches the committed files; and the environment
    for a server on it: smoke mode, outputs and JupyterLab's settings and workspaces inside tmp_path,
    matplotlib's inline backend (the tests' MPLBACKEND=Agg would show figures as text), and one torch
    thread (a second one spins, waiting for a core that the browser or the server holds)."""
    root = tmp_path / "lab"
    (root / "notebooks").mkdir(parents=True)
    for path in notebooks:
        (root / "notebooks" / path.name).write_bytes(path.read_bytes())
    settings = tmp_path / "lab-settings"
    for name, values in QUIET_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = {"GANCORE_SMOKE": "1", "GANCORE_OFFLINE": "1", "GANCORE_OUT_DIR": str(tmp_path / "out"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
           "MPLBACKEND": None, "OMP_NUM_THREADS": "1"}
    return root, env
