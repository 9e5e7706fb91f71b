"""The toolbox in headless Chromium against `quarry serve` on the emulator: every tab streams, attachments,
memory, isolation between browsers, and readable errors."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.conftest import png, standalone_toolbox
from tests.ui.conftest import GIF, open_toolbox, seen, watch

STREAM = "[[emulator: words=60, tps=150]]"


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def send_chat(page: Page, text: str) -> None:
    box = page.locator("#chat-input textarea")
    box.fill(text)
    box.press("Enter")


def assistant_messages(page: Page) -> list[str]:
    return page.locator("#chat-bot .message.bot").all_inner_texts()


def assert_streamed(page: Page, selector: str) -> None:
    texts = seen(page, selector)
    assert len(texts) >= 3, texts  # the answer grew piece by piece
    assert len(texts[-1]) > len(texts[0])


def test_tabs_in_order(page: Page) -> None:
    names = page.get_by_role("tab").all_inner_texts()
    assert [n.strip() for n in names] == [
        "Chat",
        "Translate",
        "Rewrite",
        "Summary",
        "Vision",
        "Code",
        "Formatter",
        "Knowledge",
        "Settings",
    ]
    tab(page, "Knowledge")
    expect(page.locator("#kb-question")).to_be_visible()


def test_chat_streams_and_remembers_across_reload(browser: Browser, toolbox_url: str, page: Page) -> None:
    watch(page, "#chat-bot")
    send_chat(page, f"Tell me a story {STREAM}")
    expect(page.locator("#chat-conversations input")).to_have_value("Tell me a story " + STREAM)
    page.wait_for_function("() => document.querySelector('#chat-bot').innerText.trim().endsWith('.')")
    assert_streamed(page, "#chat-bot")
    send_chat(page, "And a second turn")
    expect(page.locator("#chat-bot")).to_contain_text('You said: "And a second turn"')
    # The same browser, reloaded: its conversation is still listed and opens with both turns.
    page.reload()
    page.locator("#chat-conversations input").click()
    page.get_by_role("option", name="Tell me a story", exact=False).first.click()
    expect(page.locator("#chat-bot")).to_contain_text('You said: "And a second turn"')


def test_chat_image_has_its_real_media_type(page: Page, tmp_path: Path) -> None:
    disguised = tmp_path / "photo.png"
    disguised.write_bytes(GIF)  # named .png, but a GIF: the bytes decide
    page.locator("#chat-input input[type=file]").set_input_files(str(disguised))
    page.locator("#chat-input textarea").fill("What is in this picture?")
    expect(page.locator("#chat-input img")).to_be_visible()  # uploaded: its thumbnail shows
    page.locator("#chat-input textarea").press("Enter")
    expect(page.locator("#chat-bot")).to_contain_text("I received 1 image (gif")
    expect(page.locator("#chat-bot img").first).to_be_visible()


def test_forget_clears_the_models_memory(page: Page) -> None:
    send_chat(page, "Remember the word pineapple")
    expect(page.locator("#chat-bot")).to_contain_text('You said: "Remember the word pineapple"')
    page.locator("#chat-forget").click()
    expect(page.locator("#chat-status")).to_contain_text("Forgotten")
    assert assistant_messages(page) == []
    # Reopened from the server, the conversation is empty too: the memory is gone, not only the screen.
    page.reload()
    page.locator("#chat-conversations input").click()
    page.get_by_role("option", name="Remember the word pineapple").click()
    expect(page.locator("#chat-status")).to_have_text("")
    page.wait_for_timeout(500)
    assert "pineapple" not in page.locator("#chat-bot").inner_text()


def test_two_browsers_never_see_each_others_conversations(browser: Browser, toolbox_url: str, page: Page) -> None:
    send_chat(page, "Secret plans of browser A")
    expect(page.locator("#chat-bot")).to_contain_text('You said: "Secret plans of browser A"')
    other, second = open_toolbox(browser, toolbox_url)
    try:
        send_chat(second, "Browser B here")
        expect(second.locator("#chat-bot")).to_contain_text('You said: "Browser B here"')
        second.locator("#chat-conversations input").click()
        options = second.get_by_role("option").all_inner_texts()
        assert any("Browser B here" in option for option in options)
        assert not any("Secret plans" in option for option in options)
    finally:
        other.close()


def test_chat_errors_are_readable(page: Page) -> None:
    send_chat(page, "[[emulator: error=AccessDeniedException]]")
    expect(page.locator("#chat-status")).to_contain_text("Access denied")
    assert "Traceback" not in page.content()


def test_chat_stop_keeps_the_partial_answer(page: Page) -> None:
    send_chat(page, "[[emulator: words=2000, tps=40]]")
    page.wait_for_function("() => document.querySelector('#chat-bot .message.bot')?.innerText.length > 20")
    page.locator("#chat-stop").click()
    page.wait_for_timeout(1000)
    stopped = page.locator("#chat-bot .message.bot").last.inner_text()
    page.wait_for_timeout(1000)
    assert page.locator("#chat-bot .message.bot").last.inner_text() == stopped  # no longer growing
    assert len(stopped.split()) < 2000


def test_chat_export(page: Page) -> None:
    send_chat(page, "Export me")
    expect(page.locator("#chat-bot")).to_contain_text('You said: "Export me"')
    page.locator("#chat-export").click()
    expect(page.locator("#chat-exported a[href$='/Export-me.md']")).to_have_count(1)
    expect(page.locator("#chat-exported a[href$='/Export-me.json']")).to_have_count(1)


def run_text_tab(page: Page, name: str, text: str) -> None:
    tab(page, name.capitalize())
    watch(page, f"#{name}-output")
    page.locator(f"#{name}-input textarea").fill(text)
    page.locator(f"#{name}-run").click()


LONG = "\n\n".join(f"Paragraph {n} " + "is a fairly long piece of prose " * 12 for n in range(3))


def test_translate_splits_long_text_and_streams(page: Page) -> None:
    run_text_tab(page, "translate", LONG)
    expect(page.locator("#translate-status")).to_contain_text("Done: 3 parts.")
    assert_streamed(page, "#translate-output")
    expect(page.locator("#translate-output")).to_contain_text("Paragraph 2")


def test_rewrite_streams(page: Page) -> None:
    run_text_tab(page, "rewrite", f"Make this friendlier. {STREAM}")
    expect(page.locator("#rewrite-status")).to_contain_text("Done.")
    assert_streamed(page, "#rewrite-output")


def test_summary_combines_the_parts(page: Page) -> None:
    run_text_tab(page, "summary", LONG)
    expect(page.locator("#summary-status")).to_contain_text("Done: 3 parts.")
    expect(page.locator("#summary-output")).to_contain_text("Part 1:")  # the combining call quoted the parts


def test_translate_error_is_readable(page: Page) -> None:
    run_text_tab(page, "translate", "[[emulator: throttle]]")
    expect(page.locator("#translate-status")).to_contain_text("Rate limited", timeout=60_000)


def test_vision_several_images(page: Page, tmp_path: Path) -> None:
    tab(page, "Vision")
    files = []
    for name, data in (("reference.png", png(4, 4)), ("board-1.png", png(3, 3)), ("board-2.gif", GIF)):
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    page.locator("#vision-images input[type=file]").set_input_files(files)
    expect(page.locator("#vision-images a[href$='/board-2.gif']")).to_have_count(1)
    watch(page, "#vision-output")
    page.locator("#vision-run").click()
    expect(page.locator("#vision-output")).to_contain_text("I received 3 images (png")
    expect(page.locator("#vision-status")).to_contain_text("Done.")


def test_code_two_stages(page: Page) -> None:
    tab(page, "Code")
    watch(page, "#code-developer")
    page.locator("#code-input textarea").fill(f"A function that adds two numbers {STREAM}")
    page.locator("#code-run").click()
    expect(page.locator("#code-status")).to_contain_text("Done.")
    assert_streamed(page, "#code-developer")
    expect(page.locator("#code-design")).not_to_be_empty()
    expect(page.locator("#code-final")).to_contain_text(page.locator("#code-developer").inner_text().strip()[:40])
    # The emulator quotes what it was sent: the developer gets the task and the architect's design.
    page.locator("#code-input textarea").fill("A function that adds two numbers")
    page.locator("#code-run").click()
    expect(page.locator("#code-status")).to_contain_text("Done.")
    expect(page.locator("#code-developer")).to_contain_text("Design:")
    expect(page.locator("#code-developer")).to_contain_text("A function that adds two numbers")


def test_formatter_repairs_invalid_json(page: Page) -> None:
    tab(page, "Formatter")
    page.locator("#formatter-input textarea").fill("[[emulator: reply={name: Ada, born 1815]]")
    page.locator("#formatter-run").click()
    expect(page.locator("#formatter-status")).to_contain_text("Repaired: the first answer was not valid JSON")
    expect(page.locator("#formatter-result")).to_contain_text("{")


def test_formatter_valid_yaml(page: Page) -> None:
    tab(page, "Formatter")
    page.locator("#formatter-input textarea").fill("[[emulator: reply=name: Ada\nborn: 1815]]")
    page.get_by_label("YAML").check()
    page.locator("#formatter-run").click()
    expect(page.locator("#formatter-status")).to_contain_text("Valid YAML.")
    expect(page.locator("#formatter-result")).to_contain_text("born: 1815")


def test_formatter_says_when_there_is_no_structure(page: Page) -> None:
    tab(page, "Formatter")
    page.locator("#formatter-input textarea").fill("[[emulator: reply=hello]]")
    page.get_by_label("YAML").check()
    page.locator("#formatter-run").click()
    expect(page.locator("#formatter-status")).to_contain_text("No structure found: the answer is a bare string")
    expect(page.locator("#formatter-status")).not_to_contain_text("Valid")


def test_settings_are_saved_per_user(browser: Browser, toolbox_url: str, page: Page) -> None:
    tab(page, "Settings")
    page.locator("#settings-presets .cm-content").fill('{"pirate": "Talk like a pirate."}')
    page.locator("#settings-save").click()
    expect(page.locator("#settings-status")).to_contain_text("Saved for you.")
    page.reload()
    page.locator("#toolbox-banner").get_by_text("default model").wait_for()
    tab(page, "Settings")
    expect(page.locator("#settings-presets")).to_contain_text("pirate")
    other, second = open_toolbox(browser, toolbox_url)
    try:
        tab(second, "Settings")
        expect(second.locator("#settings-presets")).not_to_contain_text("pirate")
    finally:
        other.close()


def test_quarry_ui_runs_alone_against_any_quarry(browser: Browser, toolbox_url: str) -> None:
    with standalone_toolbox(toolbox_url) as url:
        context, page = open_toolbox(browser, url)
        send_chat(page, "Hello from the standalone toolbox")
        expect(page.locator("#chat-bot")).to_contain_text('You said: "Hello from the standalone toolbox"')
        context.close()


def test_stop_shows_only_while_something_runs(page: Page) -> None:
    for name in ("chat", "translate", "rewrite", "summary", "vision", "code", "formatter", "kb"):
        expect(page.locator(f"#{name}-stop")).to_be_hidden()
    send_chat(page, "[[emulator: words=400, tps=40]]")
    expect(page.locator("#chat-stop")).to_be_visible()
    page.locator("#chat-stop").click()
    expect(page.locator("#chat-stop")).to_be_hidden()
    run_text_tab(page, "rewrite", f"Briefly. {STREAM}")
    expect(page.locator("#rewrite-stop")).to_be_visible()
    expect(page.locator("#rewrite-status")).to_contain_text("Done.", timeout=60_000)
    expect(page.locator("#rewrite-stop")).to_be_hidden()


def test_the_export_box_shows_once_there_is_an_export(page: Page) -> None:
    expect(page.locator("#chat-exported")).to_be_hidden()
    send_chat(page, "Export me later")
    expect(page.locator("#chat-bot")).to_contain_text('You said: "Export me later"')
    page.locator("#chat-export").click()
    expect(page.locator("#chat-exported")).to_be_visible()
    page.locator("#chat-new").click()
    expect(page.locator("#chat-exported")).to_be_hidden()
