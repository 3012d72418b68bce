"""Batches that start kernels (tiny notebooks, no torch): failures, interruption, resuming, Dask,
and `make run`'s guarantee that a failed batch never replaces earlier results."""
import json
import os
import signal
import threading
import time

import psutil
import pytest

from gancore.batch import load, load_grid, run_grid
from gancore.batch.cli import main
from gancore.batch.executors import available_cores, plan_threads


def spawned(out, name):
    return json.loads((out / name / "run.json").read_text())["spawned"]


def test_a_failed_run_is_recorded_and_only_it_runs_again(tiny, grid_file, tmp_path, capsys):
    out = tmp_path / "out"
    path = grid_file(f"notebook: 01_a\noutput: {out}\ngrid: {{x: [2, -1]}}\n")
    assert main([str(path), "--workers", "2", "--smoke"]) == 1
    table = load(out)
    assert table["status"].tolist() == ["ok", "failed"]
    failed = table.iloc[1]
    assert failed["error"] == "AssertionError: x must be > 0, got -1"
    assert failed["failed_cell"] == "In [3]: import json, os, pathlib, time"  # the injected cell is In [2]
    assert "----> 6 assert x > 0" in failed["traceback"]
    threads = plan_threads(2, available_cores())[1]
    assert table["cpu_threads"].tolist() == [threads] * 2 and table["smoke"].tolist() == [True] * 2
    assert table.loc[0, "metrics.threads"] == threads, "the notebook got the planned threads"
    assert table.loc[0, "metrics.score"] == 1.0 and table.loc[0, "metrics.per.x"] == 2
    assert all((out / html).is_file() for html in table["html"])  # the failed run's HTML shows where it stopped
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith("failed") and "x=-1  AssertionError: x must be > 0, got -1  [In [3]" in printed[1]
    assert printed[-1].startswith("2 runs: 1 ok, 1 failed")
    import numpy, papermill, torch  # noqa: E401 - only their versions, as recorded

    from gancore.batch.provenance import git_state, source_digest
    assert table["made_with.torch"].tolist() == [torch.__version__] * 2
    assert table["made_with.numpy"].tolist() == [numpy.__version__] * 2
    assert table["made_with.papermill"].tolist() == [papermill.__version__] * 2
    assert table["made_with.gancore_source"].tolist() == [source_digest()] * 2
    commit, dirty = git_state()
    assert table["made_with.git_commit"].fillna("").tolist() == [commit] * 2
    assert table["made_with.git_dirty"].tolist() == [dirty] * 2

    before = {name: spawned(out, name) for name in table["run"]}
    assert main([str(path), "--workers", "2", "--smoke"]) == 1
    after = {name: spawned(out, name) for name in table["run"]}
    assert [name for name in before if before[name] != after[name]] == ["01_a/x=-1"]
    assert load(out)["status"].tolist() == ["ok", "failed"]


def test_an_interrupted_batch_marks_its_run_interrupted_and_resumes(tiny, grid_file, tmp_path):
    out, hold = tmp_path / "out", tmp_path / "h"
    hold.touch()
    path = grid_file(f"notebook: 01_a\noutput: {out}\ngrid: {{hold: ['', '{hold}']}}\n")
    held = "01_a/hold=" + str(hold).replace("/", "_")

    def ctrl_c_once_the_held_run_waits():
        deadline = time.time() + 120
        while not ((out / held / "kernel.pid").is_file() and (out / "01_a/hold=/result.json").is_file()):
            if time.time() > deadline:
                return
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)  # the batch's handler, in this (the main) thread, takes it

    threading.Thread(target=ctrl_c_once_the_held_run_waits, daemon=True).start()
    started = time.time()
    assert main([str(path), "--workers", "2"]) == 130
    assert time.time() - started < 100
    kernel = int((out / held / "kernel.pid").read_text())
    table = load(out).set_index("run")
    assert table.loc["01_a/hold=", "status"] == "ok"
    assert table.loc[held, "status"] == "interrupted" and table.loc[held, "error"] == "stopped by Ctrl-C or SIGTERM"
    assert json.loads((out / held / "result.json").read_text())["status"] == "interrupted"
    assert not psutil.pid_exists(kernel) or psutil.Process(kernel).status() == psutil.STATUS_ZOMBIE, "kernel left"

    hold.unlink()
    first = spawned(out, "01_a/hold=")
    results = run_grid(load_grid(path), workers=2)
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert spawned(out, "01_a/hold=") == first, "the finished run was not run again"


def test_a_grid_runs_on_a_dask_cluster(tiny, grid_file, tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "out"
    path = grid_file(f"notebook: 02_b\noutput: {out}\nseeds: [3]\n")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        results = run_grid(load_grid(path), scheduler=cluster.scheduler_address)
    assert [(r["name"], r["status"]) for r in results] == [("02_b/seed=3", "ok")]
    assert results[0]["metrics"]["score"] == 3.5  # x * rate + seed
    assert results[0]["parameters"]["cpu_threads"] == plan_threads(2, available_cores())[1]  # 2 runs at once
    assert load(out)["status"].tolist() == ["ok"]


def test_make_run_replaces_its_results_only_when_every_run_succeeded(tiny, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["01_a", "--out", str(runs / "latest")]) == 0
    assert (runs / "latest/.gancore-batch").is_file(), "the batch marks the folders it writes"
    first = (runs / "latest/01_a/run.json").read_text()
    assert main(["01_a", "--out", str(runs / "latest")]) == 0
    assert (runs / "latest.previous/01_a/run.json").read_text() == first, "a success moves the old results aside"
    before = (runs / "latest/01_a/metrics.json").read_text()
    assert load(runs / "latest")["run"].tolist() == ["01_a"]
    assert main(["02_b", "-p", "x=-1", "--out", str(runs / "latest")]) == 1
    assert (runs / "latest/01_a/metrics.json").read_text() == before
    assert (runs / "latest.previous/01_a/run.json").read_text() == first
    failed = [p for p in runs.iterdir() if p.name.startswith("failed-latest-")]
    assert len(failed) == 1 and load(failed[0])["status"].tolist() == ["failed"]
    assert main(["99_nothing"]) == 2 and "'99_nothing' matches 0 notebooks" in capsys.readouterr().err


def test_each_out_keeps_its_own_previous_and_what_the_batch_did_not_write_is_never_touched(tiny, tmp_path,
                                                                                         monkeypatch, capsys):
    runs = tmp_path / "runs"
    (runs / "previous").mkdir(parents=True)
    (runs / "previous/important.txt").write_text("a student's notes")
    (runs / "mine").mkdir()
    (runs / "mine/thesis.txt").write_text("not a batch")
    assert main(["01_a", "--out", str(runs / "mine")]) == 2  # would move a folder it did not write
    assert "not written by gancore.batch" in capsys.readouterr().err
    for out in ("hinge", "lsgan", "hinge"):
        assert main(["01_a", "--out", str(runs / out)]) == 0
    assert sorted(p.name for p in runs.iterdir()) == ["hinge", "hinge.previous", "lsgan", "mine", "previous"]
    assert (runs / "previous/important.txt").read_text() == "a student's notes"
    assert (runs / "mine/thesis.txt").read_text() == "not a batch"
    (runs / "lsgan.previous").mkdir()
    (runs / "lsgan.previous/keep.txt").write_text("keep")
    assert main(["01_a", "--out", str(runs / "lsgan")]) == 2  # its .previous is not the batch's to delete
    assert (runs / "lsgan.previous/keep.txt").is_file() and not list(runs.glob(".partial-*"))
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(["01_a", "--out", "relative"]) == 0
    assert load(here / "relative")["status"].tolist() == ["ok"]  # from the current folder
