"""Tiny notebooks that start a kernel but import no torch: the batch machinery, cheaply."""
import nbformat
import pytest

PARAMETERS = """x: int = 1  # must be > 0: only the notebook judges it
rate: float = 0.5  # a float
hold: str = ""  # wait while this file exists
cpu_threads: int = 0  # threads
seed: int = 0  # seed
smoke: bool = False  # smoke
out_dir: str = "runs/x"  # out"""

BODY = """import json, os, pathlib, time
if hold:
    pathlib.Path(out_dir, 'kernel.pid').write_text(str(os.getpid()))
while hold and pathlib.Path(hold).exists():
    time.sleep(0.1)
assert x > 0, f'x must be > 0, got {x}'
pathlib.Path(out_dir).mkdir(parents=True, exist_ok=True)
json.dump({'score': x * rate + seed, 'threads': cpu_threads, 'per': {'x': x}},
          open(pathlib.Path(out_dir) / 'metrics.json', 'w'))"""


def write_notebook(path, parameters=PARAMETERS, body=BODY):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("A tiny notebook: $x > 0$"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A notebook series of two tiny notebooks, 01_a and 02_b, in place of the workbook's."""
    from gancore.batch import notebooks

    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_a.ipynb")
    write_notebook(folder / "02_b.ipynb")
    monkeypatch.setattr(notebooks, "NOTEBOOK_DIR", folder)
    monkeypatch.delenv("GANCORE_OUT_DIR", raising=False)
    return folder


@pytest.fixture
def grid_file(tmp_path):
    """Write a grid file (YAML text) and return its path."""
    def write(text, name="grid.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
