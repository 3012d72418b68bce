"""Fixtures shared by the unit tests: one CPU thread; a real browser and JupyterLab (tests/browser.py,
tests/workbook/lab_server.py)."""
from contextlib import ExitStack

import pytest
import torch

from tests.browser import launch_chromium, playwright_sync_api


@pytest.fixture(scope="module")
def one_cpu_thread():
    """Small batches run no faster on two threads, and far slower when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (the system's, driven by Playwright), started once for all browser tests."""
    with playwright_sync_api().sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_page(browser):
    """A fresh page (its own cookies and storage) with room for a notebook beside the file browser."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


@pytest.fixture
def jupyterlab(tmp_path):
    """``jupyterlab(*notebooks)``: `make lab`'s JupyterLab on copies of ``notebooks`` (paths), in smoke
    mode; stopped, with its kernels, when the test ends, passed or failed."""
    pytest.importorskip("jupyterlab")
    from tests.workbook.lab_server import lab_copy, running_lab

    with ExitStack() as servers:
        def start(*notebooks):
            root, env = lab_copy(tmp_path, list(notebooks))
            return servers.enter_context(running_lab(tmp_path, root=root, env=env))
        yield start
