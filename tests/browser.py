"""A real browser for the tests: Debian's Chromium driven by Playwright, and a guard that records
every request a page makes that is not allowed to leave the machine (and refuses it).

Playwright normally drives a browser build it downloads itself; that needs the network, so the tests
point it at the system's Chromium (``apt-get install chromium``; ``GANCORE_CHROMIUM`` names another
binary). Where Chromium or Playwright is missing the browser tests skip with the install line, except
under CI (``CI`` set, as `.ci/run` runs), where they fail: CI installs both, so a skip there would
hide a broken install.
"""
from __future__ import annotations

import os
import shutil

import pytest

INSTALL = "install: `apt-get install chromium`, `pip install -e '.[test]'` (README: Browser tests)"
# Schemes that never leave the machine: the report itself, embedded images, the page's own objects.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_path() -> str | None:
    """The Chromium binary: GANCORE_CHROMIUM, else Debian's `chromium` (Ubuntu: `chromium-browser`)."""
    named = os.environ.get("GANCORE_CHROMIUM")
    if named:
        return named if shutil.which(named) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; under CI fail instead, since CI installs the browser."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it in .ci/run, so it must be there)", pytrace=False)
    pytest.skip(reason)


def playwright_sync_api():
    """playwright.sync_api, or skip (CI: fail) with the install line."""
    try:
        from playwright import sync_api
    except ImportError:
        skip_or_fail(f"browser test: Playwright is not installed; {INSTALL}")
    return sync_api


def launch_chromium(playwright):
    """Headless Chromium from the system. --no-sandbox: the sandbox refuses to start as root (containers, CI)."""
    path = chromium_path()
    if path is None:
        skip_or_fail(f"browser test: no Chromium (`chromium` on PATH, or GANCORE_CHROMIUM); {INSTALL}")
    return playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"])


class NetworkGuard:
    """Lets a page load only ``allowed`` URL prefixes and local schemes; aborts and records the rest.

    ``refused`` lists what was stopped by the route (http, https, ...); ``sockets`` any WebSocket
    opened to somewhere not allowed (routes do not see WebSockets). Both must stay empty.
    """

    def __init__(self, page, allowed: tuple[str, ...] = ()):
        self.allowed = LOCAL_SCHEMES + tuple(allowed)
        self.refused: list[str] = []
        self.sockets: list[str] = []
        page.route("**/*", self._route)
        page.on("websocket", self._socket)

    def _local(self, url: str) -> bool:
        return url.startswith(self.allowed)

    def _route(self, route) -> None:
        url = route.request.url
        if self._local(url):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("blockedbyclient")

    def _socket(self, socket) -> None:
        allowed_ws = tuple(a.replace("http", "ws", 1) for a in self.allowed if a.startswith("http"))
        if not socket.url.startswith(allowed_ws):
            self.sockets.append(socket.url)

    @property
    def left_the_machine(self) -> list[str]:
        return self.refused + self.sockets
