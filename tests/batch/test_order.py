"""Runs start longest first by their last recorded time (no kernels: execute_run is replaced)."""
import pandas as pd

from gancore.batch import load_grid, run_grid, sweep
from gancore.batch.results import TABLE, last_seconds


def _record_starts(monkeypatch):
    started = []

    def fake_run(spec):
        started.append(spec["name"])
        return {"name": spec["name"], "notebook": "01_a", "status": "ok", "parameters": {}, "seconds": 1.0,
                "key": spec["key"]}

    monkeypatch.setattr(sweep, "execute_run", fake_run)
    return started


def _grid(tiny, grid_file, tmp_path):
    return load_grid(grid_file(f"notebook: 01_a\noutput: {tmp_path / 'out'}\ngrid:\n  x: [1, 2, 3, 4]\n"))


def test_runs_start_longest_first_and_new_ones_before_them(tiny, grid_file, tmp_path, monkeypatch):
    started = _record_starts(monkeypatch)
    grid = _grid(tiny, grid_file, tmp_path)
    names = [r.name for r in grid.runs()]
    expected = {names[0]: 5.0, names[1]: 50.0, names[3]: 20.0}  # names[2] is new: no time yet
    results = run_grid(grid, workers=1, expected=expected, stream=open(tmp_path / "log", "w"))
    assert started == [names[2], names[1], names[3], names[0]]
    assert [r["name"] for r in results] == names  # the table keeps grid order


def test_without_times_runs_start_in_grid_order(tiny, grid_file, tmp_path, monkeypatch):
    started = _record_starts(monkeypatch)
    grid = _grid(tiny, grid_file, tmp_path)
    run_grid(grid, workers=1, stream=open(tmp_path / "log", "w"))
    assert started == [r.name for r in grid.runs()]


def test_last_seconds_reads_the_ok_runs_of_a_table_and_survives_a_bad_one(tmp_path):
    assert last_seconds(tmp_path) == {}
    pd.DataFrame({"run": ["a", "b", "c"], "status": ["ok", "failed", "ok"], "seconds": [3.5, 9.0, 1.0]}) \
        .to_csv(tmp_path / TABLE, index=False)
    assert last_seconds(tmp_path) == {"a": 3.5, "c": 1.0}
    (tmp_path / TABLE).write_text("not,a\n\"table")
    assert last_seconds(tmp_path) == {}
