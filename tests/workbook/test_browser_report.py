"""HTML reports (gancore.workbook.report) in a real browser: opened from file:// with every request
that is not a local file refused and recorded (none may be tried), formulas drawn as MathML by the
browser (boxes of nonzero size, fractions stacked, no TeX left in the text), widgets and images drawn.
A screenshot of each page is left in the test's tmp folder. Chromium: tests/browser.py."""
import re

import nbformat
import papermill as pm
import pytest

from gancore.batch import list_notebooks
from gancore.workbook.report import export_html
from tests.browser import NetworkGuard
from tests.workbook.test_report import FORMULAS, WIDGETS, widget_output, write_notebook

# TeX a reader would see if a formula were left for MathJax: $ delimiters or a backslash command.
RAW_TEX = re.compile(r"(?<!\\)\$|\\(frac|mathbb|mathcal|log|begin|end|left|right|sum|partial|sigma|cdot)\b")
# Each formula's box, and each fraction's numerator and denominator boxes (top, bottom) in page order.
MATH_BOXES = "ms => ms.map(m => { const r = m.getBoundingClientRect(); return [r.width, r.height]; })"
FRACTION_ROWS = """fs => fs.map(f => [...f.children].slice(0, 2).map(c => {
  const r = c.getBoundingClientRect(); return [r.top, r.bottom]; }))"""
RENDERED_TEXT = ".jp-MarkdownCell .jp-RenderedMarkdown, .jp-OutputArea-output"  # prose and outputs, not code


def open_offline(page, html_path, screenshot):
    """Open a report from file:// with a NetworkGuard on; screenshot it whole. The guard."""
    guard = NetworkGuard(page)  # allows file:, data:, blob: only
    page.goto(html_path.as_uri(), wait_until="load")
    page.screenshot(path=screenshot, full_page=True)
    return guard


def test_the_guard_sees_a_page_that_reaches_out(browser_page, tmp_path):
    """The check below could fail: a page with a remote image, style sheet and script is caught."""
    page = tmp_path / "leaky.html"
    page.write_text('<link rel="stylesheet" href="https://cdn.example.org/a.css">'
                    '<img src="http://example.org/x.png"><script src="https://cdn.example.org/m.js"></script>')
    guard = open_offline(browser_page, page, tmp_path / "leaky.png")
    assert sorted(guard.left_the_machine) == ["http://example.org/x.png", "https://cdn.example.org/a.css",
                                              "https://cdn.example.org/m.js"]


@pytest.fixture
def derivations(tmp_path, monkeypatch):
    """Notebook 01 run in smoke mode and exported as `make run` does (papermill, then export_html)."""
    monkeypatch.delenv("MPLBACKEND", raising=False)  # figures as PNG images, as in `make run`
    monkeypatch.delenv("GANCORE_OUT_DIR", raising=False)
    path = list_notebooks(["01_gan_derivations"])[0]
    executed = tmp_path / "run" / path.name
    executed.parent.mkdir()
    pm.execute_notebook(str(path), str(executed), cwd=str(path.parent), kernel_name="python3", progress_bar=False,
                        parameters={"smoke": True, "cpu_threads": 1, "out_dir": str(executed.parent)})
    return path, export_html(executed)


def test_the_derivations_report_draws_its_formulas_offline(browser_page, derivations, tmp_path):
    source, report = derivations
    guard = open_offline(browser_page, report, tmp_path / "report_01.png")
    assert guard.left_the_machine == []

    markdown = "".join(c.source for c in nbformat.read(str(source), as_version=4).cells if c.cell_type == "markdown")
    display_formulas = markdown.count("$$") // 2  # counted in the notebook, not in the report
    assert display_formulas > 10
    assert browser_page.locator('math[display="block"]').count() >= display_formulas
    boxes = browser_page.locator("math").evaluate_all(MATH_BOXES)
    assert len(boxes) > display_formulas and all(w > 0 and h > 0 for w, h in boxes), boxes
    fractions = browser_page.locator("mfrac").evaluate_all(FRACTION_ROWS)
    assert fractions, "notebook 01 has fractions (the optimal discriminator)"
    for (_, numerator_bottom), (denominator_top, _) in fractions:  # typeset: one above the other
        assert numerator_bottom <= denominator_top + 1, fractions

    text = "\n".join(browser_page.locator(RENDERED_TEXT).all_inner_texts())  # code may hold TeX: plot labels
    assert "optimal discriminator" in text and not RAW_TEX.search(text), RAW_TEX.search(text)
    images = browser_page.locator(".jp-OutputArea-output img").evaluate_all(
        "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert images and all(images), images  # the plots, decoded from their embedded PNG


def test_a_widget_report_shows_the_saved_panel(browser_page, tmp_path):
    """test_report.py's notebook of a slider, a drop-down and an Output image, with no kernel run."""
    notebook = write_notebook(tmp_path / "panel.ipynb", FORMULAS, [widget_output("box")], WIDGETS)
    guard = open_offline(browser_page, export_html(notebook), tmp_path / "report_panel.png")
    assert guard.left_the_machine == []
    slider = browser_page.locator('.gc-widget-snapshot input[type="range"]')
    assert slider.input_value() == "0.3" and slider.is_disabled() and slider.bounding_box()["width"] > 0
    assert browser_page.locator(".gc-widget-snapshot select").input_value() == "hinge"
    image = browser_page.locator(".gc-widget-snapshot img")
    assert image.evaluate("i => i.complete && i.naturalWidth") == 1  # WIDGETS' 1x1 PNG
    assert browser_page.locator("math").count() == 2 and not RAW_TEX.search(browser_page.inner_text("body"))
