"""The PDF reading process: pdfium reads PDFs sent over stdin, one at a time, and the text goes back over stdout.

Run as a script by `_pdf_process` (`python -I _pdf_worker.py BUDGET`), never imported: it imports nothing of Quarry,
so it starts in the time pdfium takes to load. Its address space is capped (Linux) at what it maps once pdfium is
loaded plus BUDGET bytes, so a PDF that would take more fails inside this process, not the server.

Request: a pickled dict (data, max_pages, max_text_bytes, max_seconds). Reply: a pickled dict with `ok` (title,
pages) or `refused` (`pages`, `text`, `time`, `encrypted`, `unreadable`, `damaged`) and its detail.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]  # it ships no type information


def _mapped() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _cap(budget: int) -> int:
    """Cap the address space at what is mapped now plus `budget`; the ceiling, or 0 where there is no cap."""
    if not sys.platform.startswith("linux"):
        return 0
    import resource

    ceiling = _mapped() + budget
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    return ceiling


def read(request: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        pdf = pdfium.PdfDocument(request["data"])
    except pdfium.PdfiumError as error:
        kind = "encrypted" if "password" in str(error).lower() else "unreadable"
        return {"refused": kind, "detail": str(error)}
    try:
        title = str(pdf.get_metadata_dict(skip_empty=True).get("Title") or "")
        count = len(pdf)
        if count > request["max_pages"]:
            return {"refused": "pages", "detail": count}
        pages: list[str] = []
        text_bytes = 0
        for index in range(count):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    raw = str(textpage.get_text_range())
                finally:
                    textpage.close()
            finally:
                page.close()
            text_bytes += len(raw.encode("utf-8", "replace"))
            if text_bytes > request["max_text_bytes"]:
                return {"refused": "text", "detail": text_bytes}
            if time.monotonic() - started > request["max_seconds"]:
                return {"refused": "time", "detail": index + 1}
            pages.append(raw)
    except pdfium.PdfiumError as error:
        return {"refused": "damaged", "detail": str(error)}
    finally:
        pdf.close()
    return {"ok": True, "title": title, "pages": pages}


def main() -> None:
    budget = int(sys.argv[1])
    ceiling = _cap(budget)
    requests = Connection(os.dup(0), writable=False)
    replies = Connection(os.dup(1), readable=False)
    while True:
        try:
            request = pickle.loads(requests.recv_bytes())  # noqa: S301  # from the parent process only
        except EOFError:
            return  # the server closed its end: it is done with this reader
        try:
            reply = read(request)
        except MemoryError:
            os._exit(3)  # the parent reports the memory ceiling
        replies.send_bytes(pickle.dumps(reply))
        # Memory pdfium freed may stay mapped; a reader that kept much of its budget makes way for a fresh one.
        if ceiling and _mapped() > ceiling - budget // 2:
            return


if __name__ == "__main__":
    main()
