"""Notebook 07 in JupyterLab, in a real browser, as a student uses it: `make lab`'s server on a copy
of the notebook, the project's kernel, Run All (smoke mode), then a slider dragged with the mouse and
"Train" pressed: the output grid and the loss plot must change, and no cell may show an error
(a notebook that raises shows that the helpers would see one). Notebook 08 likewise, its rating
widget answered with clicks: the pair shown moves on and ratings.csv gets a person's rows.
Chromium and Playwright: tests/browser.py (skipped with the install line where they are missing)."""
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from gancore.batch import list_notebooks
from tests.browser import NetworkGuard
from tests.workbook.lab_page import LabNotebook, expect
from tests.workbook.test_kernelspec import installed_by_make_setup

STEP = re.compile(r"step (\d+) ")  # the panel's status line: "step 9 (warm: 3); hinge, adv=0.3, l1=12.5, ..."


def notebook_that_raises(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in ("x = 1", "x / 0", "print('not reached')")]
    nb.metadata["kernelspec"] = {"name": installed_by_make_setup()[0], "display_name": installed_by_make_setup()[1],
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_a_student_trains_with_the_loss_weight_explorer(browser_page, jupyterlab, tmp_path):
    lab = jupyterlab(*list_notebooks(["07_loss_weight_explorer"]), notebook_that_raises(tmp_path / "raises.ipynb"))
    guard = NetworkGuard(browser_page, allowed=(f"{lab.base}/",))
    notebook = LabNotebook.open(browser_page, lab, "notebooks/07_loss_weight_explorer.ipynb")
    assert notebook.kernel_name() == installed_by_make_setup()[1]  # "Python 3 (gancore)", not a stray kernel

    notebook.run_all()
    train = notebook.widget("Train N steps")
    panel = notebook.output_of("Train N steps")
    status = panel.locator(".widget-html-content")
    step_before = int(STEP.search(status.inner_text()).group(1))
    steps = int(notebook.widget("steps N").locator("input").input_value())
    grid_before, losses_before = notebook.image_sources(panel)
    browser_page.screenshot(path=tmp_path / "lab_before.png")

    l1 = notebook.drag_slider("l1", 60)
    train.click()
    expected = f"step {step_before + steps} "
    status.filter(has_text=expected).wait_for(timeout=120_000)  # the panel redraws, then writes the status
    browser_page.screenshot(path=tmp_path / "lab_after.png")

    assert f"l1={float(l1):g}," in status.inner_text()  # the dragged weight reached the kernel and trained
    grid_after, losses_after = notebook.image_sources(panel)
    assert grid_after != grid_before and losses_after != losses_before
    assert notebook.errors() == []
    assert not re.search(r"Not trained|Stopped", status.inner_text())
    assert guard.left_the_machine == []

    # The helpers see an error where there is one: a second notebook, opened from the file browser.
    raises = LabNotebook.open_from_file_browser(browser_page, lab, "notebooks/raises.ipynb")
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        raises.run_all()
    assert len(raises.errors()) == 1 and notebook.errors() == []  # each sees its own tab only


def test_a_student_rates_pairs_in_the_quality_notebook(browser_page, jupyterlab):
    lab = jupyterlab(*list_notebooks(["08_quality_evaluation"]))
    guard = NetworkGuard(browser_page, allowed=(f"{lab.base}/",))
    ratings_csv = Path(lab.env["GANCORE_OUT_DIR"]) / "ratings.csv"
    notebook = LabNotebook.open(browser_page, lab, "notebooks/08_quality_evaluation.ipynb")
    assert notebook.kernel_name() == installed_by_make_setup()[1]

    notebook.run_all()
    panel = notebook.output_of("A is better")
    status, image = panel.locator(".widget-html-content"), panel.locator("img")
    n_pairs = int(re.search(r"0 of (\d+) pairs rated by anonymous; now pair 1\.", status.inner_text()).group(1))
    shown = notebook.image_sources(panel)
    assert len(shown) == 1 and not ratings_csv.exists()  # one figure: content | exemplar | A | B

    answers = ["b", "a"]
    for rated, choice in enumerate(answers, start=1):
        notebook.widget(f"{choice.upper()} is better").click()
        expect(status).to_have_text(f"{rated} of {n_pairs} pairs rated by anonymous; now pair {rated + 1}.",
                                    timeout=60_000)
        expect(image).not_to_have_attribute("src", shown[-1], timeout=60_000)  # the next pair is drawn
        notebook.wait_idle()
        shown += notebook.image_sources(panel)
    assert len(set(shown)) == len(answers) + 1

    saved = pd.read_csv(ratings_csv)  # the widget's own file, read without its reader
    assert list(saved["pair"]) == [0, 1] and list(saved["choice"]) == answers
    assert list(saved["simulated"]) == [False, False] and (saved["rater"] == "anonymous").all()
    assert (saved["item_a"] != saved["item_b"]).all()
    assert notebook.errors() == []
    assert guard.left_the_machine == []
