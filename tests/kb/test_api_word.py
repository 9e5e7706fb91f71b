"""A Word document uploaded as a browser sends it (its media type, or only its name) is ingested and cited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.kb._docx import write_docx

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def client(serve: Any, tmp_path: Path) -> httpx.Client:
    settings = Settings(backend="emulator", data_dir=tmp_path)  # type: ignore[arg-type]
    url = serve(create_app(settings), lifespan="on").url
    return httpx.Client(base_url=f"{url}/v1", timeout=30)


@pytest.mark.parametrize("media_type", [DOCX, "application/octet-stream"])
def test_a_word_upload_is_ingested_and_its_passages_are_cited(client: httpx.Client, media_type: str) -> None:
    policy = write_docx(
        "Travel policy",
        [
            ("Heading 1", "Flights"),
            ("", "Flights longer than six hours may be booked in premium economy."),
            ("Heading 1", "Hotels"),
            ("", "Hotels are booked through the travel desk, never directly."),
        ],
    )
    with client:
        assert client.post("/knowledge-bases", json={"name": "travel"}).status_code == 201
        files = [("file", ("policy.docx", policy, media_type))]
        uploaded = client.post("/knowledge-bases/travel/documents", files=files)
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["added"] == ["policy.docx"]
        (document,) = client.get("/knowledge-bases/travel/documents").json()["data"]
        assert (document["media_type"], document["title"]) == (DOCX, "Travel policy")
        answer = client.post("/knowledge-bases/travel/answer", json={"question": "How are hotels booked?"}).json()
        cited = [source for source in answer["sources"] if source["cited"]]
        assert cited, answer
        assert cited[0]["document"] == "policy.docx"
        assert "travel desk" in cited[0]["text"]
