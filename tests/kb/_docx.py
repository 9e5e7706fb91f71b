"""Real Word documents for the tests, written by python-docx."""

from __future__ import annotations

import io

import docx


def write_docx(title: str | None, blocks: list[tuple[str, str]], table: list[list[str]] | None = None) -> bytes:
    """A .docx of (style, text) paragraphs, style "" for body text, then an optional table; its title property set."""
    document = docx.Document()
    if title:
        document.core_properties.title = title
    for style, text in blocks:
        if style.startswith("Heading "):
            document.add_heading(text, level=int(style.removeprefix("Heading ")))
        elif style == "Title":
            document.add_heading(text, level=0)
        else:
            document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
