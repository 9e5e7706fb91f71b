"""Stored XSS, in headless Chromium: the emulator answers a chat with every hostile fixture, and a knowledge base holds
a document made of them; every link the toolbox then shows is clicked, and no script runs, no dialog opens and
nothing navigates to a script or data URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.ui.test_browser import send_chat
from tests.ui.test_knowledge_tab import ask, create, open_knowledge, upload
from tests.ui.test_sanitize import HOSTILE

FIXTURES = "\n\n".join(f"{name}: {fixture}" for name, fixture in HOSTILE.items())
# What may not be left in what the toolbox rendered from a message or a document.
_ACTIVE = """(selector) => {
    const found = [];
    for (const root of document.querySelectorAll(selector)) {
        for (const element of root.querySelectorAll('*')) {
            const tag = element.tagName.toLowerCase();
            if (['script', 'iframe', 'object', 'embed', 'form', 'meta', 'base', 'math', 'use', 'animate'].includes(tag))
                found.push(tag);
            if (tag === 'svg' && element.closest('button') === null && element.querySelector('a, text'))
                found.push('svg with content');
            for (const attribute of element.attributes) {
                const value = attribute.value.replace(/[\\u0000-\\u0020]/g, '').toLowerCase();
                if (attribute.name.startsWith('on')) found.push(`${tag} ${attribute.name}`);
                if (/^(?:[a-z]*script|data):/.test(value)) found.push(`${tag} ${attribute.name}=${value}`);
            }
        }
    }
    return found;
}"""


@pytest.fixture
def watched(page: Page) -> tuple[Page, list[str]]:
    """The page, and what happened that should not have: dialogs, and navigations to script or data URLs."""
    events: list[str] = []

    def dialog(opened: Dialog) -> None:
        events.append(f"dialog: {opened.message}")
        opened.dismiss()

    def navigated(url: str) -> None:
        if url.startswith(("javascript:", "data:", "vbscript:")):
            events.append(f"navigated to {url}")

    def popup(opened: Page) -> None:
        navigated(opened.url)
        opened.close()

    page.on("dialog", dialog)
    page.on("framenavigated", lambda frame: navigated(frame.url))
    page.context.on("page", popup)
    return page, events


def click_every_link(page: Page, selector: str) -> int:
    """Click each visible link under `selector` (external ones open in a new tab, closed at once)."""
    links = page.locator(f"{selector} a")
    clicked = 0
    for index in range(links.count()):
        link = links.nth(index)
        if link.is_visible():
            try:
                link.click(no_wait_after=True, timeout=2_000)
            except PlaywrightTimeoutError:  # covered by another element (an SVG link under its text): click it anyway
                link.dispatch_event("click")
            clicked += 1
    return clicked


def assert_nothing_ran(page: Page, events: list[str], selector: str) -> None:
    assert page.evaluate("() => window.__pwned") is None
    assert events == []
    assert page.url.split("#")[0].endswith("/ui/")
    assert page.evaluate(_ACTIVE, selector) == []


def test_hostile_chat_answer_runs_nothing(watched: tuple[Page, list[str]]) -> None:
    page, events = watched
    send_chat(page, f"Repeat after me [[emulator: reply={FIXTURES}]]")
    bot = page.locator("#chat-bot .message.bot").last
    expect(bot).to_contain_text("fence-breakout:", timeout=180_000)  # some 700 streamed deltas, each re-rendered
    expect(bot).to_contain_text("markdown link")
    assert click_every_link(page, "#chat-bot .message") >= 10  # the fixtures' links, defused, are still links
    page.wait_for_timeout(300)  # a handler or navigation triggered by a click would have run by now
    assert_nothing_ran(page, events, "#chat-bot .message")
    # Reopened from the server (the stored conversation), it is as harmless.
    page.reload()
    page.locator("#chat-conversations input").click()
    page.get_by_role("option", name="Repeat after me", exact=False).first.click()
    expect(page.locator("#chat-bot .message.bot").last).to_contain_text("fence-breakout:", timeout=60_000)
    click_every_link(page, "#chat-bot .message")
    page.wait_for_timeout(300)
    assert_nothing_ran(page, events, "#chat-bot .message")


def test_hostile_document_runs_nothing(watched: tuple[Page, list[str]], tmp_path: Path) -> None:
    page, events = watched
    open_knowledge(page)
    create(page, "hostile-ui", HOSTILE["svg-a-href"] + " " + HOSTILE["md-link"])
    expect(page.locator("#kb-choose input")).to_have_value("hostile-ui")
    upload(page, tmp_path, {"hostile.md": f"# Hostile\n\n{FIXTURES}\n".encode()})
    expect(page.locator("#kb-progress")).to_contain_text("Done: 1 file ingested", timeout=60_000)
    ask(page, f"Which link sets the pwned flag? [[emulator: reply={FIXTURES} [1] ]]")
    expect(page.locator("#kb-ask-status")).to_contain_text("Done", timeout=180_000)
    expect(page.locator("#kb-answer")).to_contain_text("fence-breakout:", timeout=180_000)
    sources = page.locator("#kb-sources label")
    expect(sources.first).to_be_visible()
    clicked = click_every_link(page, "#kb-answer-box") + click_every_link(page, "#kb-about")
    for index in range(sources.count()):  # every passage retrieved from the document
        sources.nth(index).click()
        expect(page.locator("#kb-passage")).to_contain_text("hostile.md")
        clicked += click_every_link(page, "#kb-passage")
    assert clicked >= 5
    page.wait_for_timeout(300)
    assert_nothing_ran(page, events, "#kb-answer, #kb-passage, #kb-about")
