"""Real Chromium (Debian's) driven by Playwright against the live test server."""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    # Playwright's sync API runs an event loop in this thread while the browser is open; the
    # ORM calls the tests and their fixtures make meanwhile are still synchronous and safe.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Visitor:
    """A person at the browser: every page they reach is photographed under test-artifacts/."""

    def __init__(self, page: Page, base_url: str, folder: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.folder = folder
        self.shots = 0

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        self.status = response.status if response else None
        self.snap()

    def snap(self, label: str = "") -> None:
        self.shots += 1
        name = label or urlparse(self.page.url).path
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[-60:] or "home"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=self.folder / f"{self.shots:02d}-{slug}.png", full_page=True)

    def log_in(self, username: str, password: str) -> None:
        self.goto("/accounts/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()
        self.snap()

    def log_out(self) -> None:
        self.page.click("text=Log out")
        self.page.wait_for_load_state()


@pytest.fixture
def visitor(request, browser, live_server):
    """Open a fresh browser context (its own cookies) for one person."""
    contexts = []

    def open_as(name: str = "visitor") -> Visitor:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        folder = ARTIFACTS / request.node.name / name
        return Visitor(context.new_page(), live_server.url, folder)

    yield open_as
    for context in contexts:
        context.close()
