"""Limits on reading one PDF, so a decompression bomb is refused instead of taking the process's memory.

A few hundred KiB of PDF can hold a content stream that inflates to hundreds of MB; pdfium inflates and parses a
page's whole content at once (about 13 bytes of memory per inflated byte), and nothing can interrupt it. So every
Flate stream is measured first by inflating it in small pieces and throwing the output away, and the pages, the
extracted text and the time spent are bounded while pdfium reads.
"""

from __future__ import annotations

import base64
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from quarry.errors import InvalidRequest
from quarry.settings import KnowledgeSettings

__all__ = ["PdfLimits"]

# The `stream` keyword (not `endstream`) and its end of line; the data starts right after.
_STREAM = re.compile(rb"(?<!end)stream[ \t\f\x00]*(?:\r\n|\r|\n)?")
# How far back from `stream` its dictionary may start; real ones are a few hundred bytes.
_DICTIONARY_REACH = 4096
_PIECE = 1 << 16
# Deflate nested in deflate gains nothing for a honest writer; past a few layers it is a bomb or garbage.
_MAX_LAYERS = 4


@dataclass(frozen=True)
class PdfLimits:
    """What one PDF may cost to read; each refusal names the limit and its setting."""

    max_pages: int = 2000
    max_stream_bytes: int = 16 * 1024 * 1024
    max_text_bytes: int = 32 * 1024 * 1024
    max_seconds: float = 120.0
    max_memory_bytes: int = 1024 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> PdfLimits:
        return cls(
            settings.max_pdf_pages,
            settings.max_pdf_stream_bytes,
            settings.max_text_bytes,
            settings.max_parse_s,
            settings.max_pdf_memory_bytes,
        )

    def too_slow(self, name: str) -> str:
        return (
            f"{name}: reading the PDF took longer than {self.max_seconds:g} s (kb.max_parse_s, QUARRY_KB__MAX_PARSE_S)"
        )

    def check_streams(self, data: bytes, name: str) -> None:
        """Refuse when a compressed stream inflates past `max_stream_bytes`, before pdfium inflates it whole.

        Every stream is tried, whatever its dictionary says (a filter may be an indirect object): data that is not
        zlib fails on its first bytes. A stream whose inflated data is zlib again is measured one layer deeper too,
        and an ASCII-encoded one (hex, base85) is decoded first, its size bounded by the file's."""
        view = memoryview(data)
        for match in _STREAM.finditer(data):
            dictionary = data[max(0, match.start() - _DICTIONARY_REACH) : match.start()]
            dictionary = dictionary[dictionary.rfind(b"obj") + 1 :]  # this object's, not the one before
            encoded = _ascii_decoded(data, match.end(), dictionary)
            source = view[match.end() :] if encoded is None else memoryview(encoded)
            for depth in range(1, _MAX_LAYERS + 1):
                # Layer by layer, each a fresh pass: a layer's size counts even when the next one is not zlib.
                pieces: Iterator[memoryview | bytes] = _slices(source)
                for _ in range(depth):
                    pieces = _inflate(pieces)
                size, head = 0, b""
                for piece in pieces:
                    head = head or bytes(piece[:2])
                    size += len(piece)
                    if size > self.max_stream_bytes:
                        raise InvalidRequest(
                            f"{name}: a compressed stream in the PDF inflates past {self.max_stream_bytes} bytes "
                            "(kb.max_pdf_stream_bytes, QUARRY_KB__MAX_PDF_STREAM_BYTES)",
                            param="file",
                        )
                if not _is_zlib(head):
                    break

    def check_pages(self, pages: int, name: str) -> None:
        if pages > self.max_pages:
            raise InvalidRequest(
                f"{name}: the PDF has {pages} pages, more than {self.max_pages} "
                "(kb.max_pdf_pages, QUARRY_KB__MAX_PDF_PAGES)",
                param="file",
            )

    def check_progress(self, text_bytes: int, started: float, name: str) -> None:
        """Called after each page: refuse when the text so far, or the time since `started` (monotonic), is past its
        limit. A page pdfium is reading cannot be interrupted from within: the parent kills the reading process."""
        if text_bytes > self.max_text_bytes:
            raise InvalidRequest(
                f"{name}: the PDF's text is longer than {self.max_text_bytes} bytes "
                "(kb.max_text_bytes, QUARRY_KB__MAX_TEXT_BYTES)",
                param="file",
            )
        if time.monotonic() - started > self.max_seconds:
            raise InvalidRequest(self.too_slow(name), param="file")


def _slices(view: memoryview) -> Iterator[memoryview]:
    for offset in range(0, len(view), _PIECE):
        yield view[offset : offset + _PIECE]


def _is_zlib(head: bytes) -> bool:
    # RFC 1950: deflate with a window of at most 32 KiB, and a header check that is a multiple of 31.
    return len(head) == 2 and head[0] & 0x0F == 8 and head[0] >> 4 <= 7 and (head[0] << 8 | head[1]) % 31 == 0


def _ascii_decoded(data: bytes, start: int, dictionary: bytes) -> bytes | None:
    """The bytes of an ASCIIHex or ASCII85 stream (then inflated, if Flate follows); None for other streams or
    data that does not decode."""
    if b"/ASCIIHexDecode" in dictionary or b"/AHx" in dictionary:
        end = data.find(b">", start)
        text = re.sub(rb"[^0-9A-Fa-f]", b"", data[start : end if end >= 0 else len(data)])
        return bytes.fromhex((text + b"0" * (len(text) % 2)).decode())
    if b"/ASCII85Decode" in dictionary or b"/A85" in dictionary:
        end = data.find(b"~>", start)
        try:
            return base64.a85decode(data[start : end if end >= 0 else len(data)], ignorechars=b" \t\n\r\x0b\x0c\x00")
        except ValueError:
            return None
    return None


def _inflate(pieces: Iterator[memoryview | bytes]) -> Iterator[bytes]:
    """Inflate a zlib stream piece by piece, never more than 64 KiB of output at once; stops at its end or at
    data that is not zlib (a stream with another filter first, or encrypted: pdfium reports what is wrong)."""
    inflater = zlib.decompressobj()
    for piece in pieces:
        pending: bytes | memoryview = piece
        while pending:
            try:
                out = inflater.decompress(pending, _PIECE)
            except zlib.error:
                return
            if out:
                yield out
            if inflater.eof:
                return
            pending = inflater.unconsumed_tail
