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

from playwright.sync_api import Locator, Page, expect

from tests.workbook.lab_server import Lab

KERNEL_NAME = ".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName"
ERROR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
# Run All is finished when every code cell shows an execution count and the kernel is idle; it
# stopped when an output holds a traceback (JupyterLab draws error outputs as stderr).
RUN_STATE = """([errorSelector]) => {
  const errors = [...document.querySelectorAll(errorSelector)].filter(e => /Traceback|Error:/.test(e.textContent));
  if (errors.length) return 'error';
  const prompts = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')];
  const ran = prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
  const idle = document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') === 'idle';
  return ran && idle ? 'done' : false;
}"""


class LabNotebook:
    """One open notebook of a :class:`~tests.workbook.lab_server.Lab` in a Playwright page."""

    def __init__(self, page: Page):
        self.page = page

    @classmethod
    def open(cls, page: Page, lab: Lab, path: str, timeout: float = 120) -> "LabNotebook":
        """Open ``path`` (relative to the server's root) by its URL; wait until its kernel is idle, on the
        server and on the page. No kernel there means JupyterLab asks which kernel to start."""
        page.goto(lab.url(f"lab/tree/{path}"), timeout=timeout * 1000)
        deadline = time.monotonic() + timeout
        while lab.kernel_state(path) != "idle":
            if time.monotonic() > deadline:
                page.screenshot(path=lab.log.with_name("no_kernel.png"))
                raise AssertionError(f"no idle kernel for {path} after {timeout} s (screenshot: no_kernel.png "
                                     f"beside {lab.log}); sessions: {lab.get_json('api/sessions')}")
            page.wait_for_timeout(250)
        notebook = cls(page)
        notebook.wait_idle(timeout)
        expect(page.locator(KERNEL_NAME)).not_to_have_text("No Kernel", timeout=timeout * 1000)
        return notebook

    def kernel_name(self) -> str:
        """The kernel's display name, as the notebook's toolbar shows it."""
        return self.page.locator(KERNEL_NAME).inner_text().strip()

    def wait_idle(self, timeout: float = 120) -> None:
        expect(self.page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).to_have_count(
            1, timeout=timeout * 1000)

    def run_all(self, timeout: float = 300) -> None:
        """Run → Run All Cells from the menu bar; wait until every cell ran, failing on an error output."""
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        state = self.page.wait_for_function(RUN_STATE, arg=[ERROR_OUTPUT], polling=250, timeout=timeout * 1000)
        assert state.json_value() == "done", "\n\n".join(self.errors())

    def errors(self) -> list[str]:
        """The text of every output that shows a traceback or an exception."""
        texts = self.page.locator(ERROR_OUTPUT).all_inner_texts()
        return [text for text in texts if re.search(r"Traceback|Error:", text)]

    def widget(self, description: str) -> Locator:
        """The one widget labelled ``description`` (sliders, drop-downs, text boxes) or the one button
        that reads ``description``."""
        exact = re.compile(rf"^\s*{re.escape(description)}\s*$")
        labelled = self.page.locator(".jupyter-widgets > .widget-label", has_text=exact).locator("xpath=..")
        button = self.page.locator("button.jupyter-button", has_text=exact)
        found = labelled.or_(button)
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

    def output_of(self, widget: Locator) -> Locator:
        """The cell output that holds ``widget`` (a whole panel: its images, its status line)."""
        return self.page.locator(".jp-OutputArea-output").filter(has=widget)

    @staticmethod
    def image_sources(where: Locator) -> list[str]:
        """``src`` of every image in ``where``, in page order, after checking each decoded."""
        images = where.locator("img")
        sizes = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth * i.naturalHeight : 0)")
        assert sizes and all(sizes), f"images missing or not decoded: {sizes}"
        return images.evaluate_all("imgs => imgs.map(i => i.src)")
