"""`make lab`: the command line the Makefile runs (with --allow-root only for root), and that command
really starting JupyterLab, on loopback, with the project's kernel and notebooks/ reachable."""
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gancore.paths import project_root

pytest.importorskip("jupyterlab")
ROOT = project_root()
VENV = Path(sys.executable).parent.parent  # the environment running the tests stands in for .venv


def make_lab_lines(tmp_path, uid: int) -> list[str]:
    """What `make lab` would run, as the user ``uid`` (a stand-in `id` first on PATH)."""
    fake_bin = tmp_path / f"uid{uid}"
    fake_bin.mkdir()
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


def test_allow_root_is_passed_to_root_only(tmp_path):
    assert "--allow-root" in lab_command(make_lab_lines(tmp_path, 0))
    assert "--allow-root" not in lab_command(make_lab_lines(tmp_path, 1000))


def test_make_lab_says_where_full_runs_are(tmp_path):
    printed = "\n".join(make_lab_lines(tmp_path, 1000))
    assert "runs/latest/" in printed and ".html" in printed and ".ipynb" in printed


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_make_lab_starts_jupyterlab_with_the_project_kernel(tmp_path):
    port, token = free_loopback_port(), "gancore-test-token"
    command = lab_command(make_lab_lines(tmp_path, os.getuid())) + [
        "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}",
        "--ServerApp.port_retries=0"]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        status, deadline = None, time.monotonic() + 60
        while status != 200 and time.monotonic() < deadline and server.poll() is None:
            try:
                status, _ = get(f"{base}/lab?token={token}")
            except OSError:  # not listening yet
                pass
            time.sleep(0.5)
        assert status == 200, (tmp_path / "lab.log").read_text()[-3000:]
        status, body = get(f"{base}/api/kernelspecs?token={token}")
        specs = json.loads(body)["kernelspecs"]
        assert status == 200 and specs["python3"]["spec"]["language"] == "python"
        status, body = get(f"{base}/api/contents/notebooks?token={token}")  # the notebooks, from the project root
        assert status == 200 and "00_overview.ipynb" in {item["name"] for item in json.loads(body)["content"]}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
