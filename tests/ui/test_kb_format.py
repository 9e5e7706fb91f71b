"""What the Knowledge tab shows, from the API's JSON: progress, reports, rows, citations as links, sources."""

from __future__ import annotations

import pytest

from quarry.ui._kb_format import (
    answer_markdown,
    document_rows,
    passage_markdown,
    progress_line,
    report_markdown,
    source_choices,
)

SOURCES = [
    {"n": 1, "document": "guide.pdf", "page": 4, "headings": ["Setup", "Keys"], "text": "Line one.\n\nLine two.",
     "score": 0.8123, "cited": True},
    {"n": 2, "document": "notes.md", "page": None, "headings": [], "text": "Other.", "score": 0.5, "cited": False},
]  # fmt: skip


def link(n: int) -> str:
    return f'<a class="kb-cite" href="#kb-cite-{n}" title="Show source {n}">[{n}]</a>'


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Keys rotate daily [1].", f"Keys rotate daily {link(1)}."),
        ("Both [1][2] and [1, 2].", f"Both {link(1)}{link(2)} and {link(1)}{link(2)}."),
        ("Not a source: [3], [0], [2, 7] or [x].", "Not a source: [3], [0], [2, 7] or [x]."),
    ],
)
def test_citations_of_known_sources_become_links(text: str, shown: str) -> None:
    assert answer_markdown(text, 2) == shown


def test_progress_line() -> None:
    progress = {"files": 5, "files_done": 2, "chunks": 140, "embedded": 90, "current": "guide.pdf"}
    assert progress_line(progress) == "2/5 files · 140 chunks · 90 embedded · guide.pdf"
    assert progress_line(progress | {"current": ""}) == "2/5 files · 140 chunks · 90 embedded"


def test_report_lists_each_outcome_and_why_files_failed() -> None:
    report = {"added": ["a.md", "b.txt"], "replaced": [], "unchanged": ["c.md"], "removed": [],
              "duplicates": {"copy.md": "c.md"}, "failed": {"x.bin": "x.bin: unsupported file type"},
              "chunks": 12}  # fmt: skip
    assert report_markdown(report).splitlines() == [
        "Done: 2 files ingested, 12 chunks written. 1 file failed.",
        "",
        "- **Added** (2): `a.md`, `b.txt`",
        "- **Unchanged** (1): `c.md`",
        "- **Already stored** `copy.md`: the same content as `c.md`",
        "- **Failed** `x.bin`: unsupported file type",
    ]


def test_document_rows() -> None:
    documents = [{"name": "guide.pdf", "pages": 9, "chunks": 30, "tags": ["hr", "2024"]}, {"name": "n.md", "chunks": 2}]
    assert document_rows(documents) == [["guide.pdf", 9, 30, "hr, 2024"], ["n.md", "", 2, ""]]


def test_sources_and_passages_name_document_page_and_headings() -> None:
    assert source_choices(SOURCES) == [
        ("[1] guide.pdf · page 4 · score 0.81 · cited", 1),
        ("[2] notes.md · score 0.50", 2),
    ]
    assert passage_markdown(SOURCES[0]) == (
        "#### Source [1]\n**guide.pdf** · page 4 · Setup > Keys\n\n> Line one.\n>\n> Line two."
    )
