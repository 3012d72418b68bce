"""The papermill batch runner behind `make run`."""
import json

import nbformat
import pytest

from gancore.workbook import batch


def _notebook(path, body):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("out_dir: str = 'x'  # where outputs go\nfail: bool = False  # raise")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture
def tiny_notebooks(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "01_a.ipynb", "import json, pathlib\nassert not fail\n"
              "pathlib.Path(out_dir).mkdir(parents=True, exist_ok=True)\n"
              "json.dump({'fd': 2.5, 'per': {'x': 1}}, open(pathlib.Path(out_dir) / 'metrics.json', 'w'))")
    _notebook(folder / "02_b.ipynb", "assert not fail")
    monkeypatch.setattr(batch, "NOTEBOOK_DIR", folder)
    return folder


def test_batch_writes_executed_html_and_summary(tiny_notebooks, tmp_path):
    table = batch.run_batch(out=tmp_path / "runs" / "latest")
    latest = tmp_path / "runs" / "latest"
    assert (latest / "01_a" / "01_a.ipynb").is_file() and (latest / "01_a" / "01_a.html").is_file()
    assert set(json.loads((latest / "timings.json").read_text())) == {"01_a", "02_b"}
    assert table.to_dict("records") == [{"notebook": "01_a", "metric": "fd", "value": 2.5},
                                        {"notebook": "01_a", "metric": "per.x", "value": 1}]


def test_failed_batch_keeps_the_earlier_results(tiny_notebooks, tmp_path):
    latest = tmp_path / "runs" / "latest"
    batch.run_batch(["01"], out=latest)
    before = (latest / "01_a" / "metrics.json").read_text()
    with pytest.raises(Exception, match="AssertionError"):
        batch.run_batch(out=latest, parameters={"fail": True})
    assert (latest / "01_a" / "metrics.json").read_text() == before
    assert [p.name.startswith("failed-latest-") for p in (tmp_path / "runs").iterdir()].count(True) == 1
    batch.run_batch(["02_b"], out=latest)  # a later success moves the old results to previous/
    assert (tmp_path / "runs" / "previous" / "01_a" / "metrics.json").read_text() == before


def test_notebook_names_and_parameters(tiny_notebooks):
    assert [p.stem for p in batch.list_notebooks(["02"])] == ["02_b"]
    with pytest.raises(ValueError, match="01_a, 02_b"):
        batch.list_notebooks(["99"])
    assert batch._parse_param("loss=hinge") == ("loss", "hinge")
    assert batch._parse_param("steps=20") == ("steps", 20)
    assert batch._parse_param("smoke=True") == ("smoke", True)
    with pytest.raises(Exception, match="name=value"):
        batch._parse_param("steps")


def test_flatten_keeps_scalars_only():
    assert batch.flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x"}) == {"a.b": 1, "d": "x"}


def test_the_command_line_entry_point_is_still_gancore_batch():
    """`python -m gancore.batch` must keep working after the package moved into folders."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "gancore.batch", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m gancore.batch")
    bad = subprocess.run([sys.executable, "-m", "gancore.batch", "99_no_such_notebook"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode != 0 and "99_no_such_notebook" in bad.stdout + bad.stderr
