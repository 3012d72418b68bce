"""`make lab`: the command line the Makefile runs (with --allow-root only for root), and that command
really starting JupyterLab, on loopback, with the project's kernel and notebooks/ reachable.
The server is started and stopped by lab_server.py, which the browser tests share."""
import pytest

from tests.workbook.lab_server import lab_command, make_lab_lines, running_lab

pytest.importorskip("jupyterlab")


def test_allow_root_is_passed_to_root_only(tmp_path):
    assert "--allow-root" in lab_command(make_lab_lines(tmp_path, 0))
    assert "--allow-root" not in lab_command(make_lab_lines(tmp_path, 1000))


def test_make_lab_says_where_full_runs_are(tmp_path):
    printed = "\n".join(make_lab_lines(tmp_path, 1000))
    assert "runs/latest/" in printed and ".html" in printed and ".ipynb" in printed


def test_make_lab_starts_jupyterlab_with_the_project_kernel(tmp_path):
    with running_lab(tmp_path) as lab:  # serving the project itself, as `make lab` does
        specs = lab.get_json("api/kernelspecs")["kernelspecs"]
        assert specs["gancore"]["spec"]["language"] == "python"
        assert specs["gancore"]["spec"]["display_name"] == "Python 3 (gancore)"
        listed = lab.get_json("api/contents/notebooks")["content"]  # the notebooks, from the project root
        assert "00_overview.ipynb" in {item["name"] for item in listed}
