"""One `quarry serve` app with an admin key (emulator backend, its own data dir) on a real socket, and Debian's
chromium (the session's browser, tests/conftest.py) in a 1280x800 window signed in to /console."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from quarry.server import create_app
from quarry.settings import BedrockSettings, Settings
from tests.ui.conftest import CHROMIUM, FLAGS

ADMIN = "sk-console-admin-key"
# How long expect() polls for what the operator waits for: a loaded 2-core machine is slow; a state that comes
# sooner ends the wait.
EXPECT_MS = 60_000
# Every page's screenshot goes to test-artifacts/console (ignored by git); with QUARRY_UPDATE_SCREENSHOTS=1 to
# docs/images, the README's copies, so a test run leaves the checkout as it was unless asked to refresh them.
_ROOT = Path(__file__).resolve().parents[2]
IMAGES = _ROOT / ("docs/images" if os.environ.get("QUARRY_UPDATE_SCREENSHOTS") == "1" else "test-artifacts/console")


@pytest.fixture(scope="session", autouse=True)
def patient_expect() -> None:
    expect.set_options(timeout=EXPECT_MS)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's chromium for this package's tests only. Playwright's sync API keeps its event loop running in this
    thread while it is open, which the async tests after this package could not start theirs beside (and the
    toolbox's tests open their own later): so it is closed when the package's tests are done."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def console_app(data_dir: Path) -> Any:
    # One attempt at Bedrock: a throttle the emulator is told to answer reaches the caller (and the console) at once.
    settings = Settings(backend="emulator", api_key=ADMIN, data_dir=data_dir, bedrock=BedrockSettings(max_attempts=1))  # type: ignore[arg-type]
    return create_app(settings)


@pytest.fixture(scope="session")
def console_url(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    url: str = serve(console_app(tmp_path_factory.mktemp("console")), lifespan="on").url
    return url


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/console/")
    page.get_by_label("Admin key").fill(key)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def console(browser: Browser, console_url: str) -> Iterator[Page]:
    """A browser signed in with the admin key, on the overview."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    sign_in(page, console_url, ADMIN)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    yield page
    context.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@contextmanager
def signed_in_client(url: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in to the console as a browser would be (the sign-in form's token, then the cookie)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        form = client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"key": ADMIN, "csrf": csrf_of(form.text)})
        assert answer.status_code == 303, answer.text
        yield client
