"""The PDF limits through the knowledge-base upload API: configured by `[kb]` settings, reported per file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psutil

from quarry.server import create_app
from quarry.settings import KnowledgeSettings, Settings
from tests.kb._pdf import write_bomb, write_pdf

KEY = "sk-kb-limits"
MiB = 1024 * 1024


def test_uploaded_bombs_and_long_pdfs_are_refused_by_the_configured_limits(serve: Any, tmp_path: Path) -> None:
    kb = KnowledgeSettings(max_pdf_pages=2)
    settings = Settings(backend="emulator", api_key=KEY, data_dir=tmp_path / "data", kb=kb)  # type: ignore[arg-type]
    files = [
        ("file", ("bomb.pdf", write_bomb(tmp_path / "bomb.pdf", 64 * MiB).read_bytes())),
        ("file", ("long.pdf", write_pdf(tmp_path / "long.pdf", [["A page of words."]] * 3).read_bytes())),
        ("file", ("short.pdf", write_pdf(tmp_path / "short.pdf", [["Tides turn twice a day."]] * 2).read_bytes())),
    ]
    server = serve(create_app(settings), lifespan="on")
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=f"{server.url}/v1", headers=headers, timeout=60) as client:
        assert client.post("/knowledge-bases", json={"name": "limits"}).status_code == 201
        before = psutil.Process().memory_info().rss
        uploaded = client.post("/knowledge-bases/limits/documents", files=files)
        grown = psutil.Process().memory_info().rss - before
    assert uploaded.status_code == 200, uploaded.text
    report = uploaded.json()
    assert report["added"] == ["short.pdf"]
    assert "QUARRY_KB__MAX_PDF_STREAM_BYTES" in report["failed"]["bomb.pdf"]
    assert "has 3 pages, more than 2" in report["failed"]["long.pdf"]
    assert "QUARRY_KB__MAX_PDF_PAGES" in report["failed"]["long.pdf"]
    assert grown < 256 * MiB
