"""Grid files, thread planning, the table and its plot: no kernel starts here."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from gancore.batch.executors import plan_threads
from gancore.batch.grid import GridError, load_grid
from gancore.batch.results import (
    headline_values,
    load,
    row,
    summary,
    table,
    write_table,
)
from gancore.paths import project_root


def test_a_grid_expands_product_zip_and_seeds(tiny, grid_file, tmp_path, monkeypatch):
    monkeypatch.delenv("GANCORE_SMOKE", raising=False)  # which the tests set: it would make every grid smoke
    grid = load_grid(grid_file(f"""
notebook: 01_a
output: {tmp_path / 'out'}
grid: {{x: [1, 2]}}
zip: {{rate: [0.5, 1.5], hold: ['', '']}}
seeds: 2
"""), smoke=True)
    runs = grid.runs()
    assert len(runs) == 2 * 2 * 2
    assert [r.name for r in runs[:3]] == ["01_a/x=1,seed=0,rate=0.5,hold=", "01_a/x=1,seed=0,rate=1.5,hold=",
                                          "01_a/x=1,seed=1,rate=0.5,hold="]
    assert runs[1].parameters == {"smoke": True, "x": 1, "seed": 0, "rate": 1.5, "hold": ""}
    assert len({r.key for r in runs}) == len(runs)  # the key tells every run apart
    assert runs[0].key == load_grid(grid.source, smoke=True).runs()[0].key  # and is stable
    assert runs[0].key != load_grid(grid.source).runs()[0].key  # smoke is a parameter like any other
    monkeypatch.setenv("GANCORE_SMOKE", "1")
    assert runs[0].key == load_grid(grid.source).runs()[0].key  # so is the environment's smoke mode


@pytest.mark.parametrize("text, message", [
    ("notebook: 99_nothing\ngrid: {x: [1]}", r"notebook: '99_nothing' matches 0 notebooks; choose from: 01_a, 02_b"),
    ("notebook: 01_a\ngrid: {steps: [1, 2]}", r"grid.steps: 01_a has no parameter 'steps'; its parameters are x, rate"),
    ("notebook: 01_a\nparameters: {x: 1.5}", r"parameters.x: 1.5 is a float, but 01_a declares `x: int = 1`"),
    ("notebook: 01_a\ngrid: {rate: [1e-3]}", r"grid.rate: '1e-3' is a str, .*`rate: float = 0.5` \(YAML reads 1e-3"),
    ("notebook: 01_a\ngrid: {x: []}", r"grid.x must be a non-empty list, got \[\]"),
    ("notebook: 01_a\ngrid: {}", r"grid must be a non-empty mapping"),
    ("notebook: 01_a\nseeds: 0", r"seeds must be a count >= 1"),
    ("notebook: 01_a\nzip: {x: [1, 2], rate: [1.0]}", r"need one length; got \{'x': 2, 'rate': 1\}"),
    ("notebook: 01_a\nparameters: {x: 1}\ngrid: {x: [2]}", r"'x' is in both parameters and grid"),
    ("notebook: 01_a\nparameters: {out_dir: x}", r"parameters.out_dir is set by the batch"),
    ("notebook: 01_a\nseeds: [0, 1, 0]", r"these runs would come twice .*: 01_a/seed=0"),
    ("notebook: 01_a\ngrids: {x: [1]}", r"unknown key\(s\) \['grids'\]"),
    ("notebook: 01_a\ngrid: {x: [1, 2}", r"(?s)is not valid YAML: .*line 2"),
])
def test_bad_grid_files_stop_before_anything_runs(tiny, grid_file, text, message):
    path = grid_file(text)
    with pytest.raises(GridError, match=message) as err:
        load_grid(path)
    assert str(path) in str(err.value), "the error names the file"


def test_the_example_grids_are_valid(monkeypatch):
    from gancore.batch import notebooks

    monkeypatch.setattr(notebooks, "NOTEBOOK_DIR", project_root() / "notebooks")
    sizes = {}
    for path in sorted((project_root() / "grids").glob("*.yaml")):
        grid = load_grid(path, smoke=True)
        sizes[path.stem] = len(grid.runs())
        assert all(r.parameters["smoke"] for r in grid.runs())
    assert sizes["03_loss_seed"] == 9 and sizes["05_loss_weights"] >= 4


def test_parallel_runs_never_oversubscribe_the_cores():
    assert plan_threads(2, cores=2) == (2, 1)
    assert plan_threads(1, cores=2) == (1, 2)
    assert plan_threads(3, cores=8) == (3, 2)
    assert plan_threads(5, cores=2) == (2, 1), "more workers than cores would oversubscribe at 1 thread each"
    for workers in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers must be an int >= 1"):
            plan_threads(workers, cores=2)


def _result(name, status, loss, seed, fd, **extra):
    return {"name": name, "notebook": "03_mnist_baseline", "status": status, "seconds": 1.5,
            "parameters": {"loss": loss, "seed": seed}, "metrics": {} if fd is None else {"fd": fd, "models": {"mlp": {"fd": fd + 1}}},
            "key": "k", **extra}


def test_the_table_flattens_metrics_and_round_trips_through_csv(tmp_path):
    results = [_result("a", "ok", "hinge", 0, 10.0, html="a/x.html"),
               _result("b", "failed", "hinge", 1, None, error="ParameterError: bad", failed_cell="In [2]: cfg = ...")]
    df = table(results)
    assert list(df.columns[:6]) == ["run", "notebook", "status", "seconds", "loss", "seed"]
    assert row(results[0])["metrics.models.mlp.fd"] == 11.0
    write_table(df, tmp_path)
    back = load(tmp_path)
    assert back["status"].tolist() == ["ok", "failed"] and back.loc[1, "error"] == "ParameterError: bad"
    assert back.loc[0, "metrics.fd"] == 10.0 and math.isnan(back.loc[1, "metrics.fd"])
    with pytest.raises(FileNotFoundError, match="no results table"):
        load(tmp_path / "nothing")
    text = summary(results, {"03_mnist_baseline": ("fd", "models.*.fd")}, 3.0, tmp_path)
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["ok", "1.5", "s", "a"] and "fd 10  models.mlp.fd 11" in lines[0]
    assert lines[0].endswith("a/x.html")
    assert "ParameterError: bad  [In [2]: cfg = ...]" in lines[1]
    assert lines[-1].startswith("2 runs: 1 ok, 1 failed, in 3 s")
    assert headline_values({"runs": {"ring": {"modes": 8}, "grid": {"modes": 20}}}, ("runs.*.modes",)) == \
        {"runs.ring.modes": 8, "runs.grid.modes": 20}


def test_plot_draws_the_mean_over_seeds_with_their_spread():
    import matplotlib
    matplotlib.use("Agg")

    rng = np.random.default_rng(0)
    results = [_result(f"{loss}{seed}", "ok", loss, seed, float(rng.normal(i * 10, 2)))
               for i, loss in enumerate(["hinge", "wasserstein"]) for seed in range(3)]
    results.append(_result("bad", "failed", "hinge", 9, 1e6))  # failed runs are left out
    df = table(results)
    from gancore.batch import plot

    ax = plot(df, x="loss", y="fd")
    line, _, (bars,) = ax.containers[0]
    expected = df[df.status == "ok"].groupby("loss", sort=False)["metrics.fd"]
    np.testing.assert_allclose(line.get_ydata(), expected.mean().to_numpy())
    half_heights = [abs(seg[1][1] - seg[0][1]) / 2 for seg in bars.get_segments()]
    np.testing.assert_allclose(half_heights, expected.std().to_numpy())  # pandas' std: ddof=1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hinge", "wasserstein"]
    assert ax.get_title() == "fd: mean ± std over 3 runs each"
    with pytest.raises(KeyError, match="no column 'lr'"):
        plot(df, x="lr", y="fd")


def test_the_trainer_reports_its_step_only_when_a_batch_asks(tmp_path, monkeypatch):
    from gancore.train.callbacks import StatusFile

    monkeypatch.delenv("GANCORE_STATUS_FILE", raising=False)
    StatusFile(10, "hinge").update(1)  # nowhere to write: nothing happens
    path = tmp_path / "status.json"
    monkeypatch.setenv("GANCORE_STATUS_FILE", str(path))
    status = StatusFile(10, "hinge", interval=3600)
    status.update(1)
    status.update(5)  # within the interval: not written
    assert json.loads(path.read_text())["step"] == 1
    status.update(10)  # the last step always is
    assert {k: v for k, v in json.loads(path.read_text()).items() if k != "time"} == \
        {"step": 10, "steps": 10, "desc": "hinge"}
    assert pd.Timestamp.now().timestamp() - json.loads(path.read_text())["time"] < 60
