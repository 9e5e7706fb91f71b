"""PDF decompression bombs and other costly PDFs are refused while reading, by limits that name their settings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from quarry.errors import InvalidRequest
from quarry.kb._loaders import load_document
from quarry.kb._pdf_limits import PdfLimits
from quarry.settings import KnowledgeSettings
from tests.kb._pdf import write_bomb, write_encrypted_bomb, write_pdf

MiB = 1024 * 1024


@contextmanager
def peak_rss_growth() -> Iterator[list[int]]:
    """The most this process's RSS grew above its start while the block ran (sampled; read it after the block)."""
    process = psutil.Process()
    base = process.memory_info().rss
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], process.memory_info().rss - base)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()
        peak[0] = max(peak[0], process.memory_info().rss - base)


@pytest.mark.parametrize(
    ("layers", "encoding", "indirect"),
    [(1, "", False), (2, "", False), (1, "", True), (2, "", True), (1, "hex", False), (2, "a85", False)],
    ids=["flate", "flate-twice", "indirect-filter", "indirect-filter-twice", "hex-then-flate", "a85-then-flate-twice"],
)
def test_a_decompression_bomb_is_refused_before_it_takes_memory(
    tmp_path: Path, layers: int, encoding: str, indirect: bool
) -> None:
    # 64 MiB of content operators in a ~100 KiB file (~1 KiB with a second FlateDecode layer): pdfium alone took
    # ~850 MiB for it. However the filters are written, the stream is measured before pdfium reads it.
    path = write_bomb(tmp_path / "bomb.pdf", 64 * MiB, layers=layers, encoding=encoding, indirect=indirect)
    data = path.read_bytes()
    assert len(data) < 400 * 1024
    with peak_rss_growth() as growth, pytest.raises(InvalidRequest) as refused:
        load_document(data, "bomb.pdf")
    assert refused.value.status == 400
    assert refused.value.message.startswith("bomb.pdf: ")
    assert "QUARRY_KB__MAX_PDF_STREAM_BYTES" in refused.value.message
    assert growth[0] < 128 * MiB


def test_too_many_pages_are_refused_before_any_is_read(tmp_path: Path) -> None:
    # 2,001 pages sharing one small content stream: tiny on disk, refused by the default page limit.
    data = write_bomb(tmp_path / "pages.pdf", 64 * 1024, pages=2001).read_bytes()
    with pytest.raises(InvalidRequest, match=r"pages.pdf: the PDF has 2001 pages.*QUARRY_KB__MAX_PDF_PAGES"):
        load_document(data, "pages.pdf")


def test_text_past_the_limit_is_refused(tmp_path: Path) -> None:
    data = write_pdf(tmp_path / "a.pdf", [["Some words on a page."] * 20] * 3).read_bytes()
    assert load_document(data, "a.pdf").pages == 3
    with pytest.raises(InvalidRequest, match=r"a.pdf: the PDF's text is longer than 500 bytes.*QUARRY_KB__MAX_TEXT"):
        load_document(data, "a.pdf", pdf_limits=PdfLimits(max_text_bytes=500))


def test_reading_past_the_time_limit_is_refused(tmp_path: Path) -> None:
    data = write_pdf(tmp_path / "a.pdf", [["Some words."]] * 2).read_bytes()
    with pytest.raises(InvalidRequest, match=r"a.pdf: reading the PDF took longer than 1e-09 s.*MAX_PARSE_S"):
        load_document(data, "a.pdf", pdf_limits=PdfLimits(max_seconds=1e-9))


def test_limits_come_from_the_knowledge_settings() -> None:
    settings = KnowledgeSettings(
        max_pdf_pages=3, max_pdf_stream_bytes=4096, max_text_bytes=5, max_parse_s=6, max_pdf_memory_bytes=128 * MiB
    )
    assert PdfLimits.from_settings(settings) == PdfLimits(3, 4096, 5, 6, 128 * MiB)
    assert PdfLimits.from_settings(KnowledgeSettings()) == PdfLimits()


@pytest.mark.parametrize("options", [{}, {"layers": 2, "encoding": "a85", "indirect": True}, {"encoding": "hex"}])
def test_a_content_stream_under_the_limit_is_read(tmp_path: Path, options: dict[str, Any]) -> None:
    # The same shapes of file inflating to 1 MiB are odd but honest PDFs: measured, then read.
    data = write_bomb(tmp_path / "odd.pdf", MiB, **options).read_bytes()
    document = load_document(data, "odd.pdf", pdf_limits=PdfLimits(max_stream_bytes=2 * MiB))
    assert "AAAAAAAA" in document.sections[0].text


@pytest.fixture(scope="module")
def encrypted_bomb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_encrypted_bomb(tmp_path_factory.mktemp("encrypted") / "bomb.pdf", 400_000).read_bytes()


def test_an_encrypted_bomb_is_stopped_by_the_readers_memory_ceiling(encrypted_bomb: bytes) -> None:
    # Its streams are ciphertext, so measuring them first finds nothing; read in this process it took ~600 MB.
    # pdfium runs in a reader process whose address space is capped: the reader fails, the server does not grow.
    assert len(encrypted_bomb) < 64 * 1024
    with peak_rss_growth() as growth, pytest.raises(InvalidRequest) as refused:
        load_document(encrypted_bomb, "bomb.pdf", pdf_limits=PdfLimits(max_memory_bytes=128 * MiB))
    assert refused.value.status == 400
    assert refused.value.message.startswith("bomb.pdf: reading the PDF needed more than 134217728 bytes of memory")
    assert "QUARRY_KB__MAX_PDF_MEMORY_BYTES" in refused.value.message
    assert growth[0] < 64 * MiB


def test_a_page_pdfium_cannot_leave_is_stopped_at_the_deadline(encrypted_bomb: bytes) -> None:
    # One page that takes pdfium seconds: the checks between pages never run, so the reader is killed at the
    # deadline (plus a grace second) instead.
    with pytest.raises(InvalidRequest, match=r"bomb.pdf: reading the PDF took longer than 0.2 s.*MAX_PARSE_S"):
        load_document(encrypted_bomb, "bomb.pdf", pdf_limits=PdfLimits(max_seconds=0.2))


def test_pdfs_are_read_again_after_a_reader_was_killed(tmp_path: Path, encrypted_bomb: bytes) -> None:
    limits = PdfLimits(max_memory_bytes=128 * MiB)
    honest = write_pdf(tmp_path / "a.pdf", [["First page."], ["Second page."]]).read_bytes()
    for _ in range(2):
        with pytest.raises(InvalidRequest, match="memory"):
            load_document(encrypted_bomb, "bomb.pdf", pdf_limits=limits)
        document = load_document(honest, "a.pdf", pdf_limits=limits)
        assert [section.text for section in document.sections] == ["First page.", "Second page."]


def test_many_pdfs_at_once_are_all_read(tmp_path: Path) -> None:
    # More callers than reader processes: the others wait for a reader, none is refused or mixed up.
    files = [write_pdf(tmp_path / f"{n}.pdf", [[f"Document {n}."]]).read_bytes() for n in range(6)]
    texts: dict[int, str] = {}

    def read(n: int) -> None:
        texts[n] = load_document(files[n], f"{n}.pdf").sections[0].text

    threads = [threading.Thread(target=read, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert texts == {n: f"Document {n}." for n in range(6)}
