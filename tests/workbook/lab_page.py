"""A notebook in JupyterLab, driven in Chromium as a student drives it: open it, read the kernel's
name, Run All from the menu, find a widget by its description, drag a slider, press a button.

    notebook = LabNotebook.open(browser_page, lab, "notebooks/07_loss_weight_explorer.ipynb")
    notebook.run_all()                       # waits until every cell ran; fails on the first traceback
    notebook.drag_slider("l1", 80)           # -> the slider's new readout
    notebook.widget("Train N steps").click()

Selectors are JupyterLab 4's and ipywidgets 8's class names; each is used in one place here.
"""
from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from tests.workbook.lab_server import Lab

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture (tests/conftest.py) skips, or under CI fails, the tests using it
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

SHOWN_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the tab shown
KERNEL_NAME = ".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName"
IDLE = '.jp-Notebook-ExecutionIndicator[data-status="idle"]'
ERROR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
# The execution counts of the code cells, 0 for a cell not run ("[ ]:") or running ("[*]:").
COUNTS = """panel => [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(
  p => parseInt((p.textContent.match(/\\[(\\d+)\\]/) || [0, '0'])[1]))"""
# Run All is finished when every code cell shows a count above those before it and the kernel is idle;
# it stopped when an output holds a traceback (JupyterLab draws error outputs as stderr).
RUN_STATE = """([panelSelector, idleSelector, errorSelector, countsBefore]) => {
  const panel = document.querySelector(panelSelector);
  const errors = [...panel.querySelectorAll(errorSelector)].filter(e => /Traceback|Error:/.test(e.textContent));
  if (errors.length) return 'error';
  const counts = (""" + COUNTS + """)(panel);
  const ran = counts.length > 0 && counts.every(n => n > Math.max(0, ...countsBefore));
  return ran && panel.querySelector(idleSelector) ? 'done' : false;
}"""


class LabNotebook:
    """One open notebook of a :class:`~tests.workbook.lab_server.Lab` in a Playwright page: its tab's
    panel, found by the id JupyterLab gave it, so that each object reads its own notebook."""

    def __init__(self, page: Page, panel_id: str):
        self.page = page
        self.selector = f'.jp-NotebookPanel[id="{panel_id}"]'
        self.panel = page.locator(self.selector)

    @classmethod
    def open(cls, page: Page, lab: Lab, path: str, timeout: float = 120) -> "LabNotebook":
        """Open ``path`` (relative to the server's root) by its URL, which loads JupyterLab."""
        page.goto(lab.url(f"lab/tree/{path}"), timeout=timeout * 1000)
        return cls._ready(page, lab, path, timeout)

    @classmethod
    def open_from_file_browser(cls, page: Page, lab: Lab, path: str, timeout: float = 120) -> "LabNotebook":
        """Open ``path`` in JupyterLab already loaded, by double-clicking it in the file browser
        (showing its folder), in a new tab."""
        page.locator(".jp-DirListing-item", has_text=re.compile(rf"^{re.escape(path.split('/')[-1])}")).dblclick()
        return cls._ready(page, lab, path, timeout)

    @classmethod
    def _ready(cls, page: Page, lab: Lab, path: str, timeout: float) -> "LabNotebook":
        """Wait until the notebook's kernel is idle, on the server and on the page. No kernel on the
        server means JupyterLab asks which kernel to start: the screenshot shows it."""
        deadline = time.monotonic() + timeout
        while lab.kernel_state(path) != "idle":
            if time.monotonic() > deadline:
                page.screenshot(path=lab.log.with_name("no_kernel.png"))
                raise AssertionError(f"no idle kernel for {path} after {timeout} s (screenshot: no_kernel.png "
                                     f"beside {lab.log}); sessions: {lab.get_json('api/sessions')}")
            page.wait_for_timeout(250)
        notebook = cls(page, page.locator(SHOWN_PANEL).get_attribute("id"))
        notebook.wait_idle(timeout)
        expect(notebook.panel.locator(KERNEL_NAME)).not_to_have_text("No Kernel", timeout=timeout * 1000)
        return notebook

    def kernel_name(self) -> str:
        """The kernel's display name, as the notebook's toolbar shows it."""
        return self.panel.locator(KERNEL_NAME).inner_text().strip()

    def wait_idle(self, timeout: float = 120) -> None:
        expect(self.panel.locator(IDLE)).to_have_count(1, timeout=timeout * 1000)

    def run_all(self, timeout: float = 300) -> None:
        """Run → Run All Cells from the menu bar; wait until every cell ran, failing on an error output.
        The menu acts on the tab shown, which must be this notebook's."""
        expect(self.panel).to_be_visible()
        before = self.panel.evaluate(COUNTS)
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        state = self.page.wait_for_function(RUN_STATE, arg=[self.selector, IDLE, ERROR_OUTPUT, before], polling=250,
                                            timeout=timeout * 1000)
        assert state.json_value() == "done", "\n\n".join(self.errors())

    def errors(self) -> list[str]:
        """The text of every output that shows a traceback or an exception."""
        texts = self.panel.locator(ERROR_OUTPUT).all_inner_texts()
        return [text for text in texts if re.search(r"Traceback|Error:", text)]

    @staticmethod
    def _described(root: Page | Locator, description: str) -> Locator:
        exact = re.compile(rf"^\s*{re.escape(description)}\s*$")
        labelled = root.locator(".jupyter-widgets > .widget-label", has_text=exact).locator("xpath=..")
        return labelled.or_(root.locator("button.jupyter-button", has_text=exact))

    def widget(self, description: str) -> Locator:
        """The one widget labelled ``description`` (sliders, drop-downs, text boxes) or the one button
        that reads ``description``."""
        found = self._described(self.panel, description)
        expect(found, f"one widget described {description!r}").to_have_count(1)
        return found

    def drag_slider(self, description: str, dx: float) -> str:
        """Drag the handle of the slider ``description`` by ``dx`` pixels with the mouse and let go
        (the value reaches the kernel then, also with continuous_update=False); its new readout."""
        slider = self.widget(description)
        handle, readout = slider.locator(".noUi-handle"), slider.locator(".widget-readout")
        before = readout.inner_text()
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        self.page.mouse.move(x + dx, y, steps=8)
        self.page.mouse.up()
        expect(readout).not_to_have_text(before)
        return readout.inner_text()

    def output_of(self, description: str) -> Locator:
        """The cell output that holds the widget ``description`` (a whole panel: its images, its status)."""
        inside = self._described(self.page, description)  # `has` looks inside each output: no panel prefix
        return self.panel.locator(".jp-OutputArea-output").filter(has=inside)

    @staticmethod
    def image_sources(where: Locator) -> list[str]:
        """``src`` of every image in ``where``, in page order, after checking each decoded."""
        images = where.locator("img")
        sizes = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth * i.naturalHeight : 0)")
        assert sizes and all(sizes), f"images missing or not decoded: {sizes}"
        return images.evaluate_all("imgs => imgs.map(i => i.src)")
