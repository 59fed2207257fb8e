"""The web UI in a real browser: Debian's Chromium driven by Playwright, against the real app
served by uvicorn on a free port. Every page fails its test on a console error, an uncaught
exception, or a request that leaves the app's own origin. Screenshots go to
`test-output/web/<test>/` (ignored by git)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api.conftest import LiveApp
from tests.conftest import ROOT
from tests.support.llm import scripted_llm_settings

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: the tests run as root here. No background networking: this machine's network
# is closed, and Chromium's own update and sync calls would only be refused.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OUTPUT = ROOT / "test-output" / "web"
_FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module. Missing Chromium fails, never skips."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the web UI tests need Debian's Chromium. "
            "`make test` installs it (apt-get install -y chromium)."
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def web_app(live_app: Callable[..., LiveApp]) -> Callable[..., LiveApp]:
    """`web_app(**settings)`: the app on the rules engine unless the settings say otherwise."""
    return lambda **settings: live_app(**{"provider": "rules", **settings})


@pytest.fixture
def llm_settings(openai_server) -> dict[str, Any]:
    """Settings for the `openai` provider pointed at the scripted server, no retries."""
    return scripted_llm_settings(openai_server.url, timeout=10)


class Watched:
    """A page plus what it did: console errors, uncaught exceptions, requested URLs."""

    def __init__(self, page: Page, app: LiveApp, shots: Path) -> None:
        self.page, self.app, self.shots = page, app, shots
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.statuses: list[int] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", lambda req: self.urls.append(req.url))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        failed = _FAILED_LOAD.search(message.text)
        if failed:  # the browser logs every 4xx; the test says which ones it provokes
            self.statuses.append(int(failed.group(1)))
        else:
            self.errors.append(message.text)

    def goto(self, path: str = "/") -> Page:
        self.page.goto(self.app.url + path)
        self.page.wait_for_selector("body[data-ready]")
        return self.page

    def shot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def check(self, allowed_statuses: set[int]) -> None:
        assert self.errors == [], f"the page logged errors: {self.errors}"
        unexpected = [s for s in self.statuses if s not in allowed_statuses]
        assert unexpected == [], f"unexpected failed loads: {unexpected}"
        foreign = [u for u in self.urls if not u.startswith((self.app.url + "/", "data:", "blob:"))]
        assert foreign == [], f"requests outside the app: {foreign}"


@pytest.fixture
def open_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Watched]]:
    """`open_page(app, allow=(401,), width=1280)`: a fresh browser context on `app`. After the
    test: no console errors, no failed loads but the allowed statuses, no foreign requests."""
    opened: list[tuple[Watched, set[int]]] = []
    contexts = []

    def open_(app: LiveApp, allow: tuple[int, ...] = (), width: int = 1280) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
        contexts.append(context)
        watched = Watched(context.new_page(), app, OUTPUT / request.node.name)
        opened.append((watched, set(allow)))
        return watched

    yield open_
    try:
        for watched, allowed in opened:
            watched.check(allowed)
    finally:
        for context in contexts:
            context.close()
