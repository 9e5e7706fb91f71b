"""Reading PDFs in separate processes with a memory ceiling and a deadline.

Measuring compressed streams first (`PdfLimits.check_streams`) stops the plain decompression bomb, but not all of
them: an encrypted PDF that opens without a password (an owner password only) has streams that are ciphertext until
pdfium decrypts them, so nothing can be measured beforehand, and a 12 KiB file can inflate to hundreds of MB inside
pdfium. Nor can a page that pdfium is parsing be interrupted from Python: a costly page holds its thread until it is
done. So pdfium runs in reader processes (`_pdf_worker.py`), where the operating system caps the address space
(`RLIMIT_AS`, on Linux) and the server kills a reader at the deadline: whatever a PDF does, it costs the server one
reader process, started again for the next PDF.

Readers are kept between PDFs (loading pdfium takes a few hundred milliseconds), at most `_READERS` at once, which
also bounds the CPU that PDF reading takes from the gateway.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from quarry.errors import InvalidRequest

if TYPE_CHECKING:
    from quarry.kb._pdf_limits import PdfLimits

__all__ = ["PdfText", "read_pdf_text"]

_WORKER = Path(__file__).with_name("_pdf_worker.py")
_READERS = 2
# How long a reader may take to report beyond the reading deadline (its own checks run between pages) before it is
# killed: a page pdfium cannot leave.
_GRACE_S = 1.0


@dataclass(frozen=True, slots=True)
class PdfText:
    """What pdfium read: the document's title (as written) and each page's raw text."""

    title: str
    pages: list[str]


def read_pdf_text(data: bytes, name: str, limits: PdfLimits) -> PdfText:
    """Read every page's text in a reader process; InvalidRequest naming `name` and the limit it passed, or what is
    wrong with the file. Blocking: call it from a worker thread."""
    pool = _pool(limits.max_memory_bytes)
    reader = pool.take()
    request = {
        "data": data,
        "max_pages": limits.max_pages,
        "max_text_bytes": limits.max_text_bytes,
        "max_seconds": limits.max_seconds,
    }
    started = time.monotonic()
    reply = reader.ask(request, started + limits.max_seconds + _GRACE_S)
    pool.give_back(reader)
    if reply is None:  # killed at the deadline, or died (the memory ceiling, or a crash in pdfium)
        if time.monotonic() - started > limits.max_seconds:
            raise InvalidRequest(limits.too_slow(name), param="file")
        raise InvalidRequest(
            f"{name}: reading the PDF needed more than {limits.max_memory_bytes} bytes of memory, or crashed the "
            "reader (kb.max_pdf_memory_bytes, QUARRY_KB__MAX_PDF_MEMORY_BYTES)",
            param="file",
        )
    if "ok" in reply:
        return PdfText(reply["title"], reply["pages"])
    return _refusal(reply["refused"], reply["detail"], name, limits)


def _refusal(kind: str, detail: Any, name: str, limits: PdfLimits) -> NoReturn:
    match kind:
        case "pages":
            limits.check_pages(int(detail), name)
        case "text":
            limits.check_progress(int(detail), time.monotonic(), name)
        case "time":
            raise InvalidRequest(limits.too_slow(name), param="file")
        case "encrypted":
            raise InvalidRequest(f"{name}: the PDF is encrypted (password-protected)", param="file")
        case "damaged":
            raise InvalidRequest(f"{name}: a damaged PDF ({detail})", param="file")
    raise InvalidRequest(f"{name}: not a readable PDF ({detail})", param="file")


class _Reader:
    """One reader process and the two pipes to it."""

    def __init__(self, budget: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603  # our own script, run by our own interpreter
            [sys.executable, "-I", str(_WORKER), str(budget)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._requests = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self._replies = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()

    def ask(self, request: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """The reader's reply, or None when it died or missed the deadline (then it is killed)."""
        try:
            self._requests.send_bytes(pickle.dumps(request))
            if self._replies.poll(max(0.0, deadline - time.monotonic())):
                reply: dict[str, Any] = pickle.loads(self._replies.recv_bytes())  # noqa: S301  # our own child
                return reply
        except (EOFError, OSError):
            pass
        self.close()
        return None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        self._requests.close()
        self._replies.close()


class _Pool:
    """Idle readers for one memory budget; at most `_READERS` readers exist at once, the rest of the callers wait."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._idle: list[_Reader] = []
        self._count = 0
        self._changed = threading.Condition()

    def take(self) -> _Reader:
        with self._changed:
            while True:
                while self._idle:
                    reader = self._idle.pop()
                    if reader.alive:
                        return reader
                    reader.close()  # it left after its last PDF to give its memory back
                    self._count -= 1
                if self._count < _READERS:
                    self._count += 1
                    break
                self._changed.wait()
        try:
            return _Reader(self._budget)
        except BaseException:
            with self._changed:
                self._count -= 1
                self._changed.notify()
            raise

    def give_back(self, reader: _Reader) -> None:
        with self._changed:
            if reader.alive:
                self._idle.append(reader)
            else:
                reader.close()
                self._count -= 1
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            for reader in self._idle:
                reader.close()
            self._idle.clear()


_pools: dict[int, _Pool] = {}
_pools_lock = threading.Lock()


def _pool(budget: int) -> _Pool:
    with _pools_lock:
        if budget not in _pools:
            _pools[budget] = _Pool(budget)
        return _pools[budget]


@atexit.register
def _close_readers() -> None:
    for pool in list(_pools.values()):
        pool.close()
