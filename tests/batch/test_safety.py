"""Batches that never lose or reuse the wrong results, with no kernels (execute_run is replaced):
options checked before anything runs, merged tables, stale keys, --dry-run, the start order."""
import shutil

import pytest

from gancore.batch import grid as grid_module
from gancore.batch import list_notebooks, load, load_grid, provenance, run_grid, sweep
from gancore.batch.cli import main
from gancore.batch.grid import Grid


@pytest.fixture
def fake_runs(monkeypatch):
    """Replace execute_run: every run is ok at once; returns the names started, in order."""
    started = []

    def fake_run(spec):
        from pathlib import Path

        from gancore.batch.run import write_json
        started.append(spec["name"])
        result = {"name": spec["name"], "notebook": Path(spec["notebook"]).stem, "status": "ok",
                  "parameters": spec["parameters"], "seconds": 1.0, "key": spec["key"]}
        write_json(Path(spec["folder"]) / "result.json", result)
        return result

    monkeypatch.setattr(sweep, "execute_run", fake_run)
    return started


def exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's errors
        return exc.code


@pytest.mark.parametrize("option", [["--workers", "0"], ["--workers", "-1"], ["--workers", "two"],
                                    ["--timeout", "0"], ["--timeout", "-5"], ["--timeout", "nan"],
                                    ["--scheduler", "localhost"], ["--scheduler", "tcp://localhost:notaport"],
                                    ["--scheduler", "tcp://127.0.0.1:1"], ["--out", "FILE/out"]])
def test_bad_options_are_one_message_and_exit_2_before_anything_runs(tiny, tmp_path, monkeypatch, capsys,
                                                                      fake_runs, option):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("a file, not a folder")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert exit_code(["01_a", "--out", str(tmp_path / "out"), *option]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 1, err
    assert option[0] in err or "FILE" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing may be created"
    assert fake_runs == []


def test_a_grid_run_into_an_existing_folder_merges_its_rows(tiny, grid_file, tmp_path, fake_runs):
    out = tmp_path / "out"
    run_grid(load_grid(grid_file(f"notebook: 01_a\noutput: {out}\ngrid: {{x: [1, 2]}}\n")))
    run_grid(load_grid(grid_file(f"notebook: 01_a\noutput: {out}\ngrid: {{x: [2, 3]}}\n", "other.yaml")), force=True)
    table = load(out)
    assert table["run"].tolist() == ["01_a/x=1", "01_a/x=2", "01_a/x=3"]
    assert table["x"].tolist() == [1, 2, 3] and set(table["status"]) == {"ok"}


def test_editing_gancore_makes_earlier_runs_stale(tiny, grid_file, tmp_path, fake_runs, monkeypatch):
    path = grid_file(f"notebook: 01_a\noutput: {tmp_path / 'out'}\ngrid: {{x: [1, 2]}}\n")
    run_grid(load_grid(path))
    assert [why for _, _, why in sweep.plan(load_grid(path))] == \
        ["skip: finished ok with the same notebook, parameters and gancore source"] * 2
    monkeypatch.setattr(grid_module, "source_digest", lambda: "an edited gancore")
    planned = sweep.plan(load_grid(path))
    assert [why for _, _, why in planned] == \
        ["run (stale: its notebook, parameters or gancore's source changed since it ran)"] * 2
    fake_runs.clear()
    run_grid(load_grid(path))
    assert fake_runs == ["01_a/x=1", "01_a/x=2"]


def test_the_source_digest_follows_every_file_of_the_package(tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(provenance.PACKAGE / "batch", package)
    first = provenance.source_digest(package)
    assert provenance.source_digest(package) == first
    with open(package / "grid.py", "a") as fh:
        fh.write("# an instructor's edit\n")
    assert provenance.source_digest(package) != first
    (package / "__pycache__").mkdir(exist_ok=True)
    edited = provenance.source_digest(package)
    (package / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    assert provenance.source_digest(package) == edited  # compiled files are not source


def test_dry_run_lists_what_would_run_and_why_and_runs_nothing(tiny, grid_file, tmp_path, fake_runs, capsys):
    out = tmp_path / "out"
    run_grid(load_grid(grid_file(f"notebook: 01_a\noutput: {out}\ngrid: {{x: [1]}}\n")))
    fake_runs.clear()
    path = grid_file(f"notebook: 01_a\noutput: {out}\ngrid: {{x: [1, 2]}}\n", "more.yaml")
    assert main([str(path), "--dry-run"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["01_a/x=2  run (new: no earlier result in this folder)",
                       "01_a/x=1  skip: finished ok with the same notebook, parameters and gancore source",
                       f"2 runs into {out}: 1 would run, 1 skipped (dry run: nothing was started or written)"]
    assert fake_runs == [] and not (out / "01_a/x=2").exists()
    assert main(["01_a", "--out", str(tmp_path / "fresh"), "--dry-run"]) == 0
    assert not (tmp_path / "fresh").exists()


def test_on_a_fresh_clone_the_longest_notebooks_start_first(tmp_path):
    grid = Grid(list_notebooks(), tmp_path / "fresh")
    order = [run.notebook.stem[:2] for run, _, _ in sweep.plan(grid)]
    assert order[:3] == ["03", "06", "08"] and order[-2:] == ["00", "01"]
    assert sorted(order) == [f"0{i}" for i in range(9)]
