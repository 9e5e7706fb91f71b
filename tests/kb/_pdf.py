"""Writes real text PDFs with reportlab for the knowledge-base tests: one list of lines per page."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen.canvas import Canvas

__all__ = ["write_bomb", "write_encrypted_bomb", "write_pdf"]


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


def write_encrypted_bomb(path: Path, lines: int) -> Path:
    """A PDF at `path` encrypted with an owner password only (it opens without one), whose one page draws `lines`
    lines of text: its compressed content stream is ciphertext, so it cannot be measured before pdfium decrypts and
    inflates it. 400,000 lines are a 12 KiB file that took pdfium ~600 MB and 5 s."""
    encryption = StandardEncryption("", ownerPassword="owner", strength=128)
    canvas = Canvas(str(path), pagesize=A4, encrypt=encryption, invariant=True, pageCompression=1)
    text = canvas.beginText(72, 720)
    for _ in range(lines):
        text.textLine("AAAAAAAA")
    canvas.drawText(text)
    canvas.showPage()
    canvas.save()
    return path


def write_bomb(
    path: Path, inflated: int, *, pages: int = 1, layers: int = 1, encoding: str = "", indirect: bool = False
) -> Path:
    """A PDF at `path` whose one content stream (shared by `pages` pages) inflates to about `inflated` bytes of text
    operators: a decompression bomb of a few hundred KiB. `layers` FlateDecode filters are chained (a nested bomb is
    small after the first); `encoding` "hex" or "a85" puts an ASCII filter in front; `indirect` makes the filter
    array an indirect object, so the stream's own dictionary names no filter. Written by hand, compressing piece by
    piece, so making it costs the test little memory (reportlab would hold the whole content in memory first)."""
    operator = b"BT /F1 12 Tf 72 720 Td (AAAAAAAA) Tj ET\n"
    block = operator * (65536 // len(operator))
    content = b"".join(_deflate(block, inflated // len(block)))
    filters = ["/FlateDecode"] * layers
    for _ in range(layers - 1):
        content = zlib.compress(content, 9)
    if encoding == "hex":
        content, filters = content.hex().encode() + b">", ["/ASCIIHexDecode", *filters]
    elif encoding == "a85":
        content, filters = base64.a85encode(content, wrapcol=72) + b"~>", ["/ASCII85Decode", *filters]
    chain = f"[{' '.join(filters)}]"
    kids = " ".join(f"{5 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} /Filter {f'{5 + pages} 0 R' if indirect else chain} >>\nstream\n".encode()
        + content
        + b"\nendstream",
    ]
    resources = b"/Resources << /Font << /F1 3 0 R >> >>"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] %s /Contents 4 0 R >>" % resources
    objects += [page] * pages
    if indirect:
        objects.append(chain.encode())
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(pdf)
    return path


def _deflate(block: bytes, times: int) -> Iterator[bytes]:
    compressor = zlib.compressobj(9)
    for _ in range(times):
        yield compressor.compress(block)
    yield compressor.flush()
