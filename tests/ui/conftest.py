"""One `quarry serve` (emulator backend, toolbox at /ui) and one headless Chromium for the whole session.

Every test gets a fresh browser context (its own localStorage, so its own toolbox user) and leaves a screenshot
in `test-artifacts/ui/`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.conftest import offline_environment

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
# How long expect() polls for what the user waits for (an answer streamed, a long text split and combined): a
# loaded 2-core machine takes far more than Playwright's default 5 s, and a state that comes sooner ends the wait.
EXPECT_MS = 60_000
GIF = bytes.fromhex("4749463839610100010080000000000000ffffff21f90401000000002c00000000010001000002024401003b")


@contextmanager
def running_quarry(home: Path, env: dict[str, str]) -> Iterator[str]:
    """`quarry serve --port 0` in the offline environment of `home` plus `env`; yields its URL."""
    environment = offline_environment(home) | env
    log = (home / "serve.log").open("w")  # the JSON log, read when a test fails
    process = subprocess.Popen(
        [sys.executable, "-m", "quarry", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=environment,
    )
    assert process.stdout is not None
    try:
        banner = process.stdout.readline()
        match = re.search(r"Quarry (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
        log.close()


@pytest.fixture(scope="session")
def toolbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`quarry serve` as a user starts it with no AWS credentials; small limits so splitting is exercised."""
    env = {
        "QUARRY_UI__SPLIT_TOKENS": "120",
        "QUARRY_UI__COMPRESS_AFTER_TOKENS": "200",
        "QUARRY_UI__KEEP_RECENT_MESSAGES": "2",
    }
    with running_quarry(tmp_path_factory.mktemp("toolbox"), env) as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def patient_expect() -> None:
    expect.set_options(timeout=EXPECT_MS)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # A missing browser fails the run: scripts/test installs Debian's chromium.
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield launched
    launched.close()


def open_toolbox(browser: Browser, url: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{url}/ui/")
    page.locator("#chat-input textarea").wait_for()
    # The session is open once its settings (loaded through the API) are on the page.
    page.locator("#toolbox-banner").get_by_text("default model").wait_for()
    return context, page


@pytest.fixture
def page(browser: Browser, toolbox_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    context, opened = open_toolbox(browser, toolbox_url)
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def watch(page: Page, selector: str) -> None:
    """Record every text the element shows from now on, to tell a streamed answer from one that arrived whole."""
    page.evaluate(
        """(selector) => {
            const seen = (window.__seen ??= {});
            seen[selector] = [];
            const target = document.querySelector(selector);
            new MutationObserver(() => seen[selector].push(target.innerText)).observe(
                target, {subtree: true, childList: true, characterData: true});
        }""",
        selector,
    )


def seen(page: Page, selector: str) -> list[str]:
    """The distinct non-empty texts the watched element showed, in order."""
    texts: list[str] = page.evaluate("(selector) => window.__seen[selector]", selector)
    distinct: list[str] = []
    for text in texts:
        if text.strip() and (not distinct or distinct[-1] != text):
            distinct.append(text)
    return distinct
