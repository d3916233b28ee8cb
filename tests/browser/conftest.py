"""Browser tests: the page at `/` driven in Debian's Chromium by Playwright, against real
gunicorn (`amends serve`) on a fresh SQLite database and a copy of the shipped policy each.

All are marked `slow` and `browser` (the fast loop leaves them out). Each saves a screenshot
to test-artifacts/screenshots/<test>.png and fails on any console error or uncaught page
error. Without Playwright or Chromium they skip with the reason, but with CI=true they fail:
in CI they must run."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import KEYS, ROOT
from tests.support.policy_files import copy_policy
from tests.support.servers import running_server

HERE = Path(__file__).parent
CHROMIUM = Path(os.environ.get("AMENDS_CHROMIUM", "/usr/bin/chromium"))
# The machine's closed network refuses Chromium's own background connections; a browser test
# needs none of them.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1280, "height": 900}
TABLET = {"width": 820, "height": 1180}
TIMEOUT_MS = 20_000


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the page in Chromium (Playwright)")
    config.addinivalue_line("markers", "browser_timezone(name): the browser's time zone for "
                            "the test (default UTC)")


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.browser)


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; with CI=true the browser tests must run, not skip "
                    "(./dev install sets both up)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    """One Chromium for the run (each test gets a fresh context: its own storage)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install playwright; never `playwright "
                 "install`: the tests use Debian's chromium)")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"Chromium is not at {CHROMIUM} (apt-get install chromium, or set "
                 "AMENDS_CHROMIUM)")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@dataclass
class Server:
    base: str
    folder: Path  # the policy folder it activates from; tests edit it
    log_path: str


@pytest.fixture
def server(tmp_path) -> Server:
    """Real gunicorn on a database and a policy folder of the test's own."""
    folder = copy_policy(tmp_path / "policy")
    environment = {"AMENDS_POLICY": str(folder),
                   "AMENDS_DATABASE_URL": f"sqlite:///{tmp_path / 'amends.db'}",
                   "AMENDS_POLICY_POLL_SECONDS": "0.5"}
    with running_server(environment, workers=2) as (base, process):
        yield Server(base, folder, process.log_path)


@dataclass
class Ui:
    """A page in a browser context of its own, and what it logged."""

    page: object
    base: str
    name: str
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow_console_error(self, pattern: str) -> None:
        """An error the test provokes on purpose (a refused key logs a failed request)."""
        self.allowed.append(pattern)

    def sign_in(self, role: str = "manager") -> None:
        from playwright.sync_api import expect

        self.page.goto(self.base + "/")
        self.page.get_by_label("API key or token").fill(KEYS[role])
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#who-role")).to_have_text(role.replace("_", " "))

    def open_tab(self, name: str) -> None:
        from playwright.sync_api import expect

        tab = self.page.get_by_role("tab", name=name)
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")

    def screenshot(self, suffix: str = "") -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}{suffix}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def at_tablet_width(self) -> None:
        self.page.set_viewport_size(TABLET)

    def unexpected_errors(self) -> list[str]:
        return [error for error in self.errors
                if not any(re.search(pattern, error) for pattern in self.allowed)]


def _test_name(request) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)


@pytest.fixture
def ui(chromium, server, request) -> Ui:
    zone = request.node.get_closest_marker("browser_timezone")
    context = chromium.new_context(viewport=LAPTOP, locale="en-GB",
                                   timezone_id=zone.args[0] if zone else "UTC")
    context.set_default_timeout(TIMEOUT_MS)
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)  # its checks too, not only the page's actions
    page = context.new_page()
    shown = Ui(page, server.base, _test_name(request))
    page.on("console", lambda message: shown.errors.append(
        f"console error: {message.text} ({message.location.get('url', '')})")
        if message.type == "error" else None)
    page.on("pageerror", lambda error: shown.errors.append(f"page error: {error}"))
    try:
        yield shown
    finally:
        try:
            shown.screenshot()  # the state it ended in, failed or not
        finally:
            context.close()
    unexpected = shown.unexpected_errors()
    assert not unexpected, "the page logged errors:\n" + "\n".join(unexpected)


