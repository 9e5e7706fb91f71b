"""Word documents (.docx): body paragraphs and tables in reading order, headings as (level, text) blocks.

python-docx reads the XML; this module only walks it. A .docx is a zip, so the sizes its directory declares are
checked first: a small upload must not inflate into gigabytes of XML (a decompression bomb).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from quarry.errors import InvalidRequest

if TYPE_CHECKING:
    from docx.document import Document

__all__ = ["DOCX", "MAX_DOCX_XML_BYTES", "docx_blocks"]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# The inflated size of all a document's parts that may be read. Text-heavy books of a thousand pages stay far below.
MAX_DOCX_XML_BYTES = 256 * 1024 * 1024
# Word's built-in heading styles ("Heading 1".."Heading 9"); "Title" is the document's title, level 1 here.
_HEADING = re.compile(r"heading ([1-9])$", re.I)


def _check_archive(data: bytes, name: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
            if "word/document.xml" not in archive.namelist():
                raise InvalidRequest(f"{name}: not a Word document (no word/document.xml)", param="file")
    except zipfile.BadZipFile:
        raise InvalidRequest(f"{name}: not a Word (.docx) file: it is not a zip archive", param="file") from None
    if inflated > MAX_DOCX_XML_BYTES:
        raise InvalidRequest(
            f"{name}: the document inflates to {inflated} bytes, over the {MAX_DOCX_XML_BYTES}-byte limit", param="file"
        )


def docx_blocks(data: bytes, name: str) -> tuple[str | None, list[tuple[int, str]]]:
    """The title (core properties) and the body as blocks: (0, text) for body text, (level, text) for a heading."""
    _check_archive(data, name)
    import docx  # the `kb` extra
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise InvalidRequest(f"{name}: not a readable Word document ({exc})", param="file") from None
    title = (document.core_properties.title or "").strip() or None
    return title, list(_blocks(document))


def _blocks(document: Document) -> Iterator[tuple[int, str]]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            heading = _HEADING.match(style)
            level = int(heading[1]) if heading else 1 if style.lower() == "title" else 0
            yield level, text
        elif isinstance(item, Table):
            # A row a line, cells apart by " | ": the words and their order survive; merged cells repeat in python-docx,
            # so a cell equal to its left neighbour is the same cell.
            lines = []
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = " ".join(cell.text.split())
                    if not cells or text != cells[-1]:
                        cells.append(text)
                if any(cells):
                    lines.append(" | ".join(cells))
            if lines:
                yield 0, "\n".join(lines)
