"""The Knowledge tab in headless Chromium against `quarry serve` on the emulator: create a knowledge base, upload
with progress, ask and watch the cited answer stream, open the passage behind a citation; and readable errors.

Knowledge bases belong to the server, not to a browser: each test names its own."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import open_toolbox, running_quarry, seen, watch

LEAVE = (
    "# Leave\n\n## Annual leave\n\nEvery employee gets 25 days of paid annual leave each year. "
    "Unused leave days may be carried over until the end of March.\n\n## Sick leave\n\n"
    "Sick leave needs a doctor's note after three consecutive days away.\n"
)
ONCALL = "The on-call engineer answers pages within fifteen minutes, day and night.\n"
QUESTION = "How many days of paid annual leave does an employee get?"


def open_knowledge(page: Page) -> None:
    page.get_by_role("tab", name="Knowledge", exact=True).click()
    page.locator("#kb-question textarea").wait_for()


def create(page: Page, name: str, description: str = "") -> None:
    if not page.locator("#kb-new-name").is_visible():
        page.locator("#kb-new").get_by_text("New knowledge base").click()
    page.locator("#kb-new-name").locator("input, textarea").fill(name)
    page.locator("#kb-new-description").locator("input, textarea").fill(description)
    page.locator("#kb-create").click()


def choose(page: Page, name: str) -> None:
    page.locator("#kb-choose input").click()
    page.get_by_role("option", name=name, exact=True).click()


def upload(page: Page, folder: Path, files: dict[str, bytes]) -> None:
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(str(folder / name))
    page.locator("#kb-files input[type=file]").set_input_files(paths)
    expect(page.locator(f"#kb-files a[href$='/{next(reversed(files))}']")).to_have_count(1)  # uploaded to Gradio
    page.locator("#kb-upload").click()


def ask(page: Page, question: str) -> None:
    page.locator("#kb-question textarea").fill(question)
    page.locator("#kb-ask").click()


def test_create_upload_ask_and_open_the_cited_passage(page: Page, tmp_path: Path) -> None:
    open_knowledge(page)
    create(page, "handbook-ui", "Staff handbook")
    expect(page.locator("#kb-status")).to_contain_text("Created handbook-ui")
    expect(page.locator("#kb-choose input")).to_have_value("handbook-ui")
    expect(page.locator("#kb-about")).to_contain_text("Staff handbook")
    expect(page.locator("#kb-about")).to_contain_text("0 documents")

    watch(page, "#kb-progress")
    upload(page, tmp_path, {"leave.md": LEAVE.encode(), "oncall.txt": ONCALL.encode()})
    expect(page.locator("#kb-progress")).to_contain_text("Done: 2 files ingested", timeout=60_000)
    expect(page.locator("#kb-progress")).to_contain_text("Added (2): leave.md, oncall.txt")
    shown = seen(page, "#kb-progress")
    assert any(re.search(r"\d/2 files · \d+ chunks · \d+ embedded", text) for text in shown), shown
    expect(page.locator("#kb-documents")).to_contain_text("leave.md")
    expect(page.locator("#kb-documents")).to_contain_text("oncall.txt")
    expect(page.locator("#kb-about")).to_contain_text("2 documents")

    watch(page, "#kb-answer")
    ask(page, f"{QUESTION} [[emulator: tps=30]]")
    expect(page.locator("#kb-ask-status")).to_contain_text("Done: cites [1]", timeout=60_000)
    answer = page.locator("#kb-answer")
    expect(answer).to_contain_text("According to the knowledge base,")
    expect(answer).to_contain_text("Every employee gets 25 days of paid annual leave each year. [1]")
    texts = seen(page, "#kb-answer")
    assert len(texts) >= 3, texts  # it streamed in, piece by piece
    expect(page.locator("#kb-sources")).to_contain_text(re.compile(r"\[1\] leave\.md · score \d\.\d\d · cited"))

    # A source chosen in the list opens its passage...
    page.locator("#kb-sources").get_by_text("[1] leave.md", exact=False).click()
    passage = page.locator("#kb-passage")
    expect(passage).to_contain_text("Source [1]")
    expect(passage).to_contain_text("leave.md · Leave > Annual leave")
    expect(passage).to_contain_text("Unused leave days may be carried over")  # the whole chunk, not the quote
    # ...and so does the citation in the answer, once a new answer has cleared it.
    ask(page, QUESTION)
    expect(passage).to_have_text("")
    expect(page.locator("#kb-ask-status")).to_contain_text("Done: cites [1]", timeout=60_000)
    answer.locator("a.kb-cite", has_text="[1]").click()
    expect(passage).to_contain_text("leave.md · Leave > Annual leave")
    expect(page.locator("#kb-sources input[type=radio]").first).to_be_checked()
    assert "Traceback" not in page.content()


def test_documents_can_be_deleted_and_other_knowledge_bases_listed(
    page: Page, tmp_path: Path, toolbox_url: str
) -> None:
    open_knowledge(page)
    create(page, "deletions-ui")
    expect(page.locator("#kb-choose input")).to_have_value("deletions-ui")
    upload(page, tmp_path, {"keep.md": b"# Keep\n\nThis stays.\n", "drop.txt": b"This one goes away.\n"})
    expect(page.locator("#kb-documents")).to_contain_text("drop.txt", timeout=60_000)
    page.locator("#kb-documents [data-testid^=cell-]").filter(
        has_text="drop.txt"
    ).click()  # a row click picks the document
    expect(page.locator("#kb-document input")).to_have_value("drop.txt")
    page.locator("#kb-delete").click()
    expect(page.locator("#kb-progress")).to_contain_text("Deleted drop.txt.")
    expect(page.locator("#kb-documents")).not_to_contain_text("drop.txt")
    expect(page.locator("#kb-documents")).to_contain_text("keep.md")
    expect(page.locator("#kb-about")).to_contain_text("1 document ·")
    # A knowledge base made elsewhere (here through the API) shows up on Refresh.
    made = httpx.post(f"{toolbox_url}/v1/knowledge-bases", json={"name": "made-by-api-ui"}, timeout=30)
    assert made.status_code == 201, made.text
    page.locator("#kb-refresh").click()
    choose(page, "made-by-api-ui")
    expect(page.locator("#kb-about")).to_contain_text("0 documents")


def test_none_yet_then_the_first_is_chosen(browser: Browser, tmp_path: Path) -> None:
    """On a Quarry of its own: every other test's knowledge bases are on the shared one."""
    with running_quarry(tmp_path, {}) as url:
        context, page = open_toolbox(browser, url)
        try:
            open_knowledge(page)
            expect(page.locator("#kb-status")).to_have_text("No knowledge bases yet: create one below.")
            ask(page, QUESTION)
            expect(page.locator("#kb-ask-status")).to_have_text("Choose a knowledge base first, or create one.")
            page.locator("#kb-upload").click()
            expect(page.locator("#kb-progress")).to_have_text("Choose a knowledge base first, or create one.")
            made = httpx.post(f"{url}/v1/knowledge-bases", json={"name": "the-only-one"}, timeout=30)
            assert made.status_code == 201, made.text
            page.reload()
            open_knowledge(page)
            expect(page.locator("#kb-choose input")).to_have_value("the-only-one")
            expect(page.locator("#kb-about")).to_contain_text("0 documents")
        finally:
            context.close()


def test_mistakes_and_failures_read_as_sentences(page: Page, tmp_path: Path) -> None:
    open_knowledge(page)
    create(page, "Bad Name!")
    expect(page.locator("#kb-status")).to_contain_text("The request was refused: 'Bad Name!' is not a knowledge-base")
    create(page, "errors-ui")
    expect(page.locator("#kb-choose input")).to_have_value("errors-ui")
    create(page, "errors-ui")
    expect(page.locator("#kb-status")).to_contain_text("A knowledge base named errors-ui exists already.")
    page.locator("#kb-upload").click()
    expect(page.locator("#kb-progress")).to_have_text("Add one or more files first.")
    upload(page, tmp_path, {"leave.md": LEAVE.encode(), "blob.bin": b"\x00\x01\x02"})
    expect(page.locator("#kb-progress")).to_contain_text("1 file failed", timeout=60_000)
    expect(page.locator("#kb-progress")).to_contain_text("Failed blob.bin: unsupported file type")
    ask(page, "   ")
    expect(page.locator("#kb-ask-status")).to_have_text("Type a question first.")
    ask(page, f"{QUESTION} [[emulator: error=AccessDeniedException]]")
    expect(page.locator("#kb-ask-status")).to_contain_text("Access denied", timeout=60_000)
    assert "Traceback" not in page.content()


def test_stop_ends_a_long_answer(page: Page, tmp_path: Path) -> None:
    open_knowledge(page)
    create(page, "stop-ui")
    expect(page.locator("#kb-choose input")).to_have_value("stop-ui")
    upload(page, tmp_path, {"leave.md": LEAVE.encode()})
    expect(page.locator("#kb-progress")).to_contain_text("Done: 1 file ingested", timeout=60_000)
    ask(page, f"{QUESTION} [[emulator: words=2000, tps=40]]")
    page.wait_for_function("() => document.querySelector('#kb-answer').innerText.length > 40")
    page.locator("#kb-stop").click()
    page.wait_for_timeout(1000)
    stopped = page.locator("#kb-answer").inner_text()
    page.wait_for_timeout(1000)
    assert page.locator("#kb-answer").inner_text() == stopped  # no longer growing
    assert len(stopped.split()) < 2000
