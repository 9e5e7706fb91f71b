"""What the Knowledge tab shows: ingest progress and reports, document rows, answers with clickable citations,
sources, passages and errors — plain functions of the API's JSON."""

from __future__ import annotations

import re
from typing import Any

import openai

from quarry.ui._errors import readable_error
from quarry.ui._sanitize import safe_markdown

__all__ = [
    "CITE_PREFIX",
    "answer_markdown",
    "document_rows",
    "kb_error",
    "passage_markdown",
    "plural",
    "progress_line",
    "report_markdown",
    "source_choices",
]

CITE_PREFIX = "#kb-cite-"  # a citation links here plus its number; the page's script reads the number back
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")  # [2] or [1, 3], as quarry.kb counts citations


def kb_error(exc: BaseException) -> str:
    """A failed knowledge-base call as one sentence for the page."""
    if isinstance(exc, openai.ConflictError):  # its message says what exists already
        return safe_markdown(f"⚠️ {exc.message}")
    return f"⚠️ {readable_error(exc)}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def progress_line(progress: dict[str, Any]) -> str:
    """`2/5 files · 140 chunks · 90 embedded · report.pdf`"""
    line = (
        f"{progress.get('files_done', 0)}/{progress.get('files', 0)} files · "
        f"{progress.get('chunks', 0)} chunks · {progress.get('embedded', 0)} embedded"
    )
    current = progress.get("current")
    return safe_markdown(f"{line} · {current}") if current else line


def _names(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def report_markdown(report: dict[str, Any]) -> str:
    """An ingest report: what was added, replaced, left unchanged, removed or already stored under another name, and
    why files failed."""
    lines = []
    for key in ("added", "replaced", "unchanged", "removed"):
        names = report.get(key) or []
        if names:
            lines.append(f"- **{key.capitalize()}** ({len(names)}): {_names(sorted(names))}")
    duplicates: dict[str, str] = report.get("duplicates") or {}
    for name, holder in sorted(duplicates.items()):  # its content is in the knowledge base already, not stored twice
        lines.append(f"- **Already stored** `{name}`: the same content as `{holder}`")
    failed: dict[str, str] = report.get("failed") or {}
    for name, why in sorted(failed.items()):
        lines.append(f"- **Failed** `{name}`: {why.removeprefix(f'{name}: ')}")
    ok = len(report.get("added") or []) + len(report.get("replaced") or [])
    head = f"Done: {plural(ok, 'file')} ingested, {plural(report.get('chunks', 0), 'chunk')} written."
    if failed:
        head += f" {plural(len(failed), 'file')} failed."
    return safe_markdown("\n".join([head, "", *lines]))  # names and reasons come from uploads


def document_rows(documents: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows of the documents table: name, pages, chunks, tags."""
    return [
        [document["name"], document.get("pages") or "", document.get("chunks", 0), ", ".join(document.get("tags", []))]
        for document in documents
    ]


def _link(number: int) -> str:
    return f'<a class="kb-cite" href="{CITE_PREFIX}{number}" title="Show source {number}">[{number}]</a>'


def answer_markdown(text: str, sources: int) -> str:
    """The answer with each citation of one of its `sources` made a link that opens that source's passage."""

    def links(match: re.Match[str]) -> str:
        numbers = [int(part) for part in match.group(1).split(",")]
        if not all(1 <= number <= sources for number in numbers):
            return match.group(0)
        return "".join(_link(number) for number in numbers)

    return _CITATION.sub(links, safe_markdown(text))  # the links are added after cleaning: they are Quarry's own


def _place(source: dict[str, Any]) -> str:
    place = [f"**{source['document']}**"]
    if source.get("page") is not None:
        place.append(f"page {source['page']}")
    if source.get("headings"):
        place.append(" > ".join(source["headings"]))
    return " · ".join(place)


def source_choices(sources: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """The sources as radio choices: `[2] handbook.pdf · page 4 · score 0.81 · cited`, valued by number."""
    choices = []
    for source in sources:
        label = f"[{source['n']}] {source['document']}"
        if source.get("page") is not None:
            label += f" · page {source['page']}"
        label += f" · score {source.get('score', 0):.2f}"
        if source.get("cited"):
            label += " · cited"
        choices.append((label, int(source["n"])))
    return choices


def passage_markdown(source: dict[str, Any]) -> str:
    """One source's passage in full, under its document, page and headings."""
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in source.get("text", "").strip().splitlines())
    return safe_markdown(f"#### Source [{source['n']}]\n{_place(source)}\n\n{quoted}")
