"""Every tab that calls the API works from the first moment its input is visible: before the page's load handler
has run (here it is held back in the browser until the answer has arrived, the worst case of the race)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.conftest import offline_environment, png
from tests.ui.test_slow_api import pending_connections

WAIT = 60_000  # ms: a loaded 2-core machine; every wait is on what the user waits for
LEAVE = "# Leave\n\nEvery employee gets 25 days of paid annual leave each year.\n"


def load_handler_id(url: str) -> int:
    """The id of the event Gradio runs when the page loads (it opens the session)."""
    config = httpx.get(f"{url}/ui/config", timeout=30).json()
    (found,) = [d["id"] for d in config["dependencies"] if any(t[1] == "load" for t in d["targets"])]
    return int(found)


@pytest.fixture
def held_page(browser: Browser, toolbox_url: str) -> Iterator[Page]:
    """A page whose load handler never reaches the server until the test ends."""
    load = load_handler_id(toolbox_url)
    held: list[Route] = []

    def hold_load(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        if body.get("fn_index") == load:
            held.append(route)  # neither continued nor failed: the request stays pending
        else:
            route.continue_()

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.route("**/gradio_api/queue/join*", hold_load)
    page.goto(f"{toolbox_url}/ui/")
    yield page
    assert held, "the load handler was not held back: the test did not exercise the race"
    for route in held:
        route.abort()  # settled, so that nothing is left pending when the context closes
    context.close()


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def chat(page: Page, _: Path) -> None:
    box = page.locator("#chat-input textarea")
    box.fill("First words")
    box.press("Enter")
    expect(page.locator("#chat-bot")).to_contain_text('You said: "First words"', timeout=WAIT)


def text_tab(name: str) -> Callable[[Page, Path], None]:
    def run(page: Page, _: Path) -> None:
        tab(page, name.capitalize())
        page.locator(f"#{name}-input textarea").fill(f"Straight away in {name}")
        page.locator(f"#{name}-run").click()
        expect(page.locator(f"#{name}-status")).to_contain_text("Done", timeout=WAIT)
        expect(page.locator(f"#{name}-output")).not_to_be_empty(timeout=WAIT)

    return run


def vision(page: Page, folder: Path) -> None:
    tab(page, "Vision")
    (folder / "board.png").write_bytes(png(2, 2))
    page.locator("#vision-images input[type=file]").set_input_files(str(folder / "board.png"))
    expect(page.locator("#vision-images a[href$='/board.png']")).to_have_count(1, timeout=WAIT)
    page.locator("#vision-run").click()
    expect(page.locator("#vision-output")).to_contain_text("I received 1 image (png", timeout=WAIT)


def code(page: Page, _: Path) -> None:
    tab(page, "Code")
    page.locator("#code-input textarea").fill("A function that adds two numbers")
    page.locator("#code-run").click()
    expect(page.locator("#code-status")).to_contain_text("Done.", timeout=WAIT)


def formatter(page: Page, _: Path) -> None:
    tab(page, "Formatter")
    page.locator("#formatter-input textarea").fill("Ada Lovelace, born 1815")
    page.locator("#formatter-run").click()
    expect(page.locator("#formatter-status")).to_contain_text(re.compile("Valid JSON|Repaired"), timeout=WAIT)


def knowledge(page: Page, _: Path) -> None:
    tab(page, "Knowledge")
    page.locator("#kb-choose input").click()
    page.get_by_role("option", name="first-moment", exact=True).click()
    page.locator("#kb-question textarea").fill("How many days of paid annual leave?")
    page.locator("#kb-ask").click()
    expect(page.locator("#kb-ask-status")).to_contain_text("Done", timeout=2 * WAIT)
    expect(page.locator("#kb-answer")).not_to_be_empty(timeout=WAIT)


@pytest.fixture(scope="module")
def knowledge_base(toolbox_url: str) -> str:
    with httpx.Client(base_url=f"{toolbox_url}/v1", timeout=120) as client:
        client.post("/knowledge-bases", json={"name": "first-moment"}).raise_for_status()
        files = {"file": ("leave.md", LEAVE.encode(), "text/markdown")}
        client.post("/knowledge-bases/first-moment/documents", files=files).raise_for_status()
    return "first-moment"


ACTIONS = {
    "chat": chat,
    "translate": text_tab("translate"),
    "rewrite": text_tab("rewrite"),
    "summary": text_tab("summary"),
    "vision": vision,
    "code": code,
    "formatter": formatter,
    "knowledge": knowledge,
}


@pytest.mark.parametrize("name", list(ACTIONS))
def test_each_tab_answers_before_the_page_has_loaded(
    held_page: Page, knowledge_base: str, tmp_path: Path, name: str
) -> None:
    ACTIONS[name](held_page, tmp_path)
    assert "Error" not in held_page.locator("#chat-status").inner_text()


def test_an_api_that_does_not_answer_is_said_so(browser: Browser, tmp_path: Path) -> None:
    """The toolbox waits as long as a person would (`ui.api_timeout_s`), not the SDK's ten minutes."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connections are accepted by the kernel, never answered
        api = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = offline_environment(tmp_path) | {"QUARRY_UI__API_TIMEOUT_S": "2"}
        process = subprocess.Popen(
            [sys.executable, "-m", "quarry", "ui", "--api-url", api, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        context = browser.new_context()
        context.set_default_timeout(WAIT)
        try:
            match = re.search(r"Quarry toolbox (http://127\.0\.0\.1:\d+)/ui/", process.stdout.readline())
            assert match
            page = context.new_page()
            page.goto(f"{match.group(1)}/ui/")
            said = f"The Quarry API at {api} did not answer within 2 s"
            expect(page.locator("#toolbox-banner")).to_contain_text(said, timeout=WAIT)
            # Opening the page asked once and waited once: no retry, no second call to an API that is silent.
            assert pending_connections(silent) == 1
            box = page.locator("#chat-input textarea")
            box.fill("Anyone there?")
            box.press("Enter")
            expect(page.locator("#chat-status")).to_contain_text(said, timeout=WAIT)
            expect(page.locator("#chat-status")).to_contain_text("ui.api_timeout_s")
        finally:
            context.close()
            process.terminate()
            process.wait(timeout=30)
            process.stdout.close()
