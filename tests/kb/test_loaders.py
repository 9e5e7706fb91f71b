"""Loaders read real files (PDFs written by reportlab) into sections whose offsets point into the full text."""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import Path

import pytest

from quarry.errors import InvalidRequest
from quarry.kb._docx import MAX_DOCX_XML_BYTES
from quarry.kb._loaders import SUPPORTED_SUFFIXES, full_text, load_document, media_type_for
from quarry.kb._models import LoadedDocument
from tests.kb._docx import write_docx
from tests.kb._pdf import write_pdf


def assert_offsets(doc: LoadedDocument) -> str:
    """Every section's text is where its `start` says in the full text; returns the full text."""
    text = full_text(doc)
    for section in doc.sections:
        assert section.text
        assert text[section.start : section.start + len(section.text)] == section.text
    return text


# --- PDF -------------------------------------------------------------------------------------------------------------


def test_pdf_has_a_section_per_page_with_its_text_and_the_title(tmp_path: Path) -> None:
    pages = [
        ["Quarry reads PDF files.", "The first page is short."],
        ["Page two holds the answer:", "the treasure is under the old oak tree."],
        ["Third and last page."],
    ]
    path = write_pdf(tmp_path / "guide.pdf", pages, title="The Field Guide")
    doc = load_document(path.read_bytes(), "guide.pdf")
    assert doc.media_type == "application/pdf"
    assert doc.title == "The Field Guide"
    assert doc.pages == 3
    assert [section.page for section in doc.sections] == [1, 2, 3]
    assert doc.sections[1].text == "Page two holds the answer:\nthe treasure is under the old oak tree."
    assert "\r" not in assert_offsets(doc)


def test_pdf_joins_hyphenated_line_breaks_skips_blank_pages_and_ignores_placeholder_titles(tmp_path: Path) -> None:
    pages = [["Text extraction is a well under-", "stood problem,    mostly."], [], ["The end."]]
    doc = load_document(write_pdf(tmp_path / "a.pdf", pages).read_bytes(), "a.pdf")
    assert doc.title is None  # reportlab writes "untitled" when no title was given
    assert doc.pages == 3
    assert [section.page for section in doc.sections] == [1, 3]
    assert doc.sections[0].text == "Text extraction is a well understood problem, mostly."
    assert_offsets(doc)


@pytest.mark.parametrize(
    ("first", "last"), [("12", "Body text."), ("Body text.", "Page 12"), ("- 3 -", "3 of 40"), ("Body text.", "12/40")]
)
def test_pdf_page_numbers_alone_on_a_line_are_dropped(tmp_path: Path, first: str, last: str) -> None:
    middle = "The middle line has 12 in it."
    path = write_pdf(tmp_path / "a.pdf", [[first, middle, last]])
    [section] = load_document(path.read_bytes(), "a.pdf").sections
    assert section.text.split("\n") == [line for line in (first, middle, last) if line in ("Body text.", middle)]


def test_encrypted_pdf_is_refused_by_name(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "secret.pdf", [["classified"]], user_password="hunter2")
    with pytest.raises(InvalidRequest, match=r"secret\.pdf: .*encrypted"):
        load_document(path.read_bytes(), "secret.pdf")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>not a pdf</html>", "not a readable PDF"),
        (b"%PDF-1.7\ntruncated", "not a readable PDF"),
    ],
)
def test_a_file_called_pdf_that_is_not_one_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=rf"report\.pdf: {message}"):
        load_document(data, "report.pdf")


def test_pdf_without_text_is_refused(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "scan.pdf", [[], []])
    with pytest.raises(InvalidRequest, match=r"scan\.pdf: the document has no text \(a scanned PDF needs OCR"):
        load_document(path.read_bytes(), "scan.pdf")


# --- types -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("Report.PDF", b"", "application/pdf"),
        ("notes.md", b"%PDF-", "text/markdown"),  # the suffix decides first
        ("notes.markdown", b"", "text/markdown"),
        ("page.htm", b"", "text/html"),
        ("page.html", b"", "text/html"),
        ("readme.txt", b"", "text/plain"),
        ("download", b"%PDF-1.7\n", "application/pdf"),
        ("odd.bin", b"\x00\x01junk before the header %PDF-1.4\n", "application/pdf"),
        ("photo.jpg", b"\xff\xd8\xff\xe0", None),
        ("no-suffix", b"plain words", None),
    ],
)
def test_media_type_by_suffix_then_signature(name: str, data: bytes, expected: str | None) -> None:
    assert media_type_for(name, data) == expected


def test_every_supported_suffix_has_a_loader(tmp_path: Path) -> None:
    binary = {
        ".pdf": write_pdf(tmp_path / "a.pdf", [["Some text."]]).read_bytes(),
        ".docx": write_docx(None, [("", "Some text.")]),
    }
    for suffix in SUPPORTED_SUFFIXES:
        assert full_text(load_document(binary.get(suffix, b"Some text."), "a" + suffix)) == "Some text."


def test_a_given_media_type_wins_over_the_name() -> None:
    doc = load_document(b"# Title\n\nBody.", "README", "text/markdown; charset=utf-8")
    assert doc.media_type == "text/markdown"
    assert doc.sections[0].headings == ("Title",)
    assert load_document(b"# Not a heading", "x.bin", "text/plain").sections[0].headings == ()


def test_unsupported_type_is_refused_by_name() -> None:
    with pytest.raises(InvalidRequest, match=r"photo\.jpg: unsupported file type \(supported: .*\.pdf"):
        load_document(b"\xff\xd8\xff\xe0", "photo.jpg")


# --- text ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"First paragraph,\r\nsecond line.\r\n\r\n\r\n\r\nSecond   paragraph.  ",
        codecs.BOM_UTF8 + b"First paragraph,\nsecond line.\n\nSecond paragraph.",
        codecs.BOM_UTF16_LE + "First paragraph,\r\nsecond line.\r\n\r\nSecond paragraph.".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "First paragraph,\nsecond line.\n\nSecond paragraph.".encode("utf-16-be"),
    ],
    ids=["utf-8 crlf", "utf-8 bom", "utf-16-le bom", "utf-16-be bom"],
)
def test_text_is_one_section_of_paragraphs(data: bytes) -> None:
    doc = load_document(data, "notes.txt")
    assert doc.media_type == "text/plain"
    assert [(section.text, section.page, section.headings) for section in doc.sections] == [
        ("First paragraph,\nsecond line.\n\nSecond paragraph.", None, ())
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the document has no text"),
        (b" \n\r\n\t \n", "the document has no text"),
        ("caf\xe9 au lait".encode("latin-1"), "not UTF-8"),
        (b"ab\x00\x00cd", "binary data"),
    ],
)
def test_unreadable_or_empty_text_is_refused_by_name(data: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=rf"notes\.txt: {message}"):
        load_document(data, "notes.txt")


# --- Markdown --------------------------------------------------------------------------------------------------------

MARKDOWN = """\
---
title: "Operator's Handbook"
tags: [ops]
---
Read this first.

# Handbook

## Install

Run this:

```bash
pip install quarry
# a comment, not a heading
```

### Check ###
Run `quarry --version`.

Configuration
-------------
Settings come from the environment.

---

# Appendix
The end.
"""


def test_markdown_sections_follow_the_heading_tree() -> None:
    doc = load_document(MARKDOWN.encode(), "handbook.md")
    assert doc.title == "Operator's Handbook"  # the front matter's title, not the first H1
    assert [(section.headings, section.text) for section in doc.sections] == [
        ((), "Read this first."),
        (
            ("Handbook", "Install"),
            "Install\n\nRun this:\n\n```bash\npip install quarry\n# a comment, not a heading\n```",
        ),
        (("Handbook", "Install", "Check"), "Check\n\nRun `quarry --version`."),
        (("Handbook", "Configuration"), "Configuration\n\nSettings come from the environment."),
        (("Appendix",), "Appendix\n\nThe end."),
    ]
    text = assert_offsets(doc)
    assert "tags:" not in text


def test_markdown_title_is_the_first_h1_without_front_matter() -> None:
    doc = load_document(b"Intro.\n\nMain Title\n==========\n\nBody.\n\n# Later\n\nMore.", "a.md")
    assert doc.title == "Main Title"
    assert [section.headings for section in doc.sections] == [(), ("Main Title",), ("Later",)]


# --- HTML ------------------------------------------------------------------------------------------------------------

PAGE = """\
<!doctype html>
<html><head><title>Tides &amp; Currents | Sea Site</title>
<style>p { color: red }</style><script>var menu = "<p>SCRIPT TEXT</p>";</script></head>
<body>
<header><a href="/">SITE BANNER</a></header>
<nav><ul><li>NAV HOME</li><li>NAV ABOUT</li></ul></nav>
<div role="navigation">ROLE NAV</div>
<p>OUTSIDE THE ARTICLE</p>
<article>
  <header><h1>Tides</h1><p>By the harbour master</p></header>
  <p>The moon   pulls the sea&nbsp;twice a day &mdash; mostly.</p>
  <div hidden>HIDDEN TEXT</div>
  <ul><li>High tide</li><li>Low tide</li></ul>
  <h2>Tables</h2>
  <p>Read them<br>carefully.</p>
  <pre>  depth = 3
    time = 12</pre>
  <h3>Springs</h3>
  <table><tr><th>Kind</th><th>Range</th></tr><tr><td>Spring</td><td>large</td></tr></table>
  <footer>SHARE THIS</footer>
</article>
<aside>RELATED LINKS</aside>
<footer>COPYRIGHT</footer>
<noscript>NOSCRIPT</noscript>
</body></html>
"""


def test_html_keeps_the_article_and_drops_the_page_around_it() -> None:
    doc = load_document(PAGE.encode(), "tides.html")
    assert doc.title == "Tides & Currents | Sea Site"
    text = assert_offsets(doc)
    dropped_words = ("SCRIPT", "SITE BANNER", "NAV", "OUTSIDE", "HIDDEN", "SHARE", "RELATED", "COPYRIGHT", "NOSCRIPT")
    for dropped in dropped_words:
        assert dropped not in text
    assert [(section.headings, section.text) for section in doc.sections] == [
        (
            ("Tides",),
            "Tides\n\nBy the harbour master\n\nThe moon pulls the sea twice a day — mostly.\n\nHigh tide\nLow tide",
        ),
        (("Tides", "Tables"), "Tables\n\nRead them\ncarefully.\n\n  depth = 3\n    time = 12"),
        (("Tides", "Tables", "Springs"), "Springs\n\nKind Range\nSpring large"),
    ]


def test_html_without_main_or_article_keeps_the_body_but_its_boilerplate() -> None:
    page = b"""<html><body><nav>MENU</nav><h1>Notes</h1><p>One.</p><div>Two.</div>
        <form><label>SEARCH</label></form><footer>FOOTER</footer></body></html>"""
    doc = load_document(page, "notes.html")
    assert doc.title == "Notes"  # no <title>: the first h1
    assert [(section.headings, section.text) for section in doc.sections] == [(("Notes",), "Notes\n\nOne.\n\nTwo.")]


def test_html_in_a_declared_legacy_charset() -> None:
    page = '<html><head><meta charset="windows-1252"></head><body><p>Café crème</p></body></html>'
    assert full_text(load_document(page.encode("cp1252"), "menu.html")) == "Café crème"


# --- Word -------------------------------------------------------------------------------------------------------------


def test_docx_sections_follow_its_headings_with_tables_as_rows() -> None:
    data = write_docx(
        "Staff handbook",
        [
            ("", "Welcome to the company."),
            ("Heading 1", "Leave"),
            ("", "Everyone gets 25 days."),
            ("Heading 2", "Carry-over"),
            ("", "Up to 5 days carry over."),
            ("Heading 1", "On call"),
        ],
        table=[["Team", "Rota"], ["Payments", "Weekly"]],
    )
    doc = load_document(data, "handbook.docx")
    assert doc.media_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert doc.title == "Staff handbook"
    assert [(s.headings, s.text) for s in doc.sections] == [
        ((), "Welcome to the company."),
        (("Leave",), "Leave\n\nEveryone gets 25 days."),
        (("Leave", "Carry-over"), "Carry-over\n\nUp to 5 days carry over."),
        (("On call",), "On call\n\nTeam | Rota\nPayments | Weekly"),
    ]
    assert_offsets(doc)


def test_docx_found_by_media_type_whatever_its_name() -> None:
    data = write_docx(None, [("", "Body text.")])
    media_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert full_text(load_document(data, "upload", media_type)) == "Body text."


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Not a zip at all", r"report\.docx: not a Word \(\.docx\) file: it is not a zip archive"),
        (_zip({"hello.txt": b"hi"}), r"report\.docx: not a Word document \(no word/document\.xml\)"),
        (_zip({"word/document.xml": b"<not-word/>"}), r"report\.docx: not a readable Word document"),
        (write_docx(None, []), r"report\.docx: the document has no text"),
    ],
)
def test_broken_or_empty_docx_is_refused_by_name(data: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        load_document(data, "report.docx")


def test_a_docx_that_inflates_past_the_limit_is_refused_before_it_is_parsed() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        with archive.open("word/padding.xml", "w") as padding:
            zeros = bytes(1024 * 1024)
            for _ in range(MAX_DOCX_XML_BYTES // len(zeros) + 1):
                padding.write(zeros)
    assert len(out.getvalue()) < MAX_DOCX_XML_BYTES // 100
    with pytest.raises(InvalidRequest, match=r"bomb\.docx: the document inflates to \d+ bytes, over the"):
        load_document(out.getvalue(), "bomb.docx")
