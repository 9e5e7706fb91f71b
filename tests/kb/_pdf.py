"""Writes real text PDFs with reportlab for the knowledge-base tests: one list of lines per page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

__all__ = ["write_pdf"]


def write_pdf(
    path: Path,
    pages: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    user_password: str | None = None,
) -> Path:
    """A PDF at `path` with one page per item of `pages`, each line of it drawn as one text line (top down);
    `title` goes in the document information, `user_password` encrypts it (a reader then needs the password)."""
    canvas = Canvas(str(path), pagesize=A4, encrypt=user_password, invariant=True)
    if title is not None:
        canvas.setTitle(title)
    _, height = A4
    for lines in pages:
        text = canvas.beginText(72, height - 72)
        text.setFont("Helvetica", 11)
        text.setLeading(14)
        for line in lines:
            text.textLine(line)
        canvas.drawText(text)
        canvas.showPage()
    canvas.save()
    return path
