"""Multipart uploads are bounded while they are read: the whole body (kb.max_upload_total_bytes, which
`max_body_bytes` never covered) and each file (kb.max_upload_bytes); a 413 names the setting, nothing is added."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from quarry.server import create_app
from quarry.settings import KnowledgeSettings, Settings
from tests.api.conftest import KEY

_FILE = 64 * 1024
_TOTAL = 256 * 1024


@pytest.fixture(scope="module")
def client(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = Settings(
        backend="emulator",
        api_key=KEY,  # type: ignore[arg-type]
        data_dir=tmp_path_factory.mktemp("kb-upload-limits"),
        kb=KnowledgeSettings(max_upload_bytes=_FILE, max_upload_total_bytes=_TOTAL),
    )
    url = serve(create_app(settings), lifespan="on").url
    with httpx.Client(base_url=f"{url}/v1", headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as made:
        assert made.post("/knowledge-bases", json={"name": "bounded"}).status_code == 201
        yield made


def _text(size: int) -> bytes:
    sentence = b"The on-call engineer answers pages within fifteen minutes. "
    text = (sentence * (size // len(sentence) + 1))[:size]
    assert len(text) == size
    return text


def _documents(client: httpx.Client) -> list[str]:
    return [document["name"] for document in client.get("/knowledge-bases/bounded/documents").json()["data"]]


def test_files_within_the_limits_are_added(client: httpx.Client) -> None:
    # each its own content: the same content under another name would be stored once
    files = [("file", (f"ok{n}.txt", b"%d " % n + _text(_FILE - 1024))) for n in range(3)]
    answer = client.post("/knowledge-bases/bounded/documents", files=files)
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["added"]) == ["ok0.txt", "ok1.txt", "ok2.txt"]


def test_many_files_each_within_the_file_limit_pass_the_total_and_are_refused(client: httpx.Client) -> None:
    files = [("file", (f"many{n}.txt", _text(_FILE - 1024))) for n in range(6)]
    answer = client.post("/knowledge-bases/bounded/documents", files=files)
    assert answer.status_code == 413, answer.text
    error = answer.json()["error"]
    assert error["code"] == "request_too_large"
    assert "QUARRY_KB__MAX_UPLOAD_TOTAL_BYTES" in error["message"]
    assert not [name for name in _documents(client) if name.startswith("many")]


def test_a_chunked_body_is_counted_as_it_arrives(client: httpx.Client) -> None:
    boundary = "quarryboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="chunked.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:  # no Content-Length: only counting the chunks can stop it
        yield head
        for _ in range(2 * _TOTAL // 8192):
            yield b"x" * 8192
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = client.post(
        "/knowledge-bases/bounded/documents",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 413, answer.text
    assert "QUARRY_KB__MAX_UPLOAD" in answer.json()["error"]["message"]
    assert "chunked.txt" not in _documents(client)


def test_one_file_past_the_file_limit_is_refused(client: httpx.Client) -> None:
    files = [("file", ("small.txt", _text(1024))), ("file", ("big.txt", _text(_FILE + 1)))]
    answer = client.post("/knowledge-bases/bounded/documents", files=files)
    assert answer.status_code == 413, answer.text
    error = answer.json()["error"]
    assert error["code"] == "request_too_large"
    assert "big.txt" in error["message"]
    assert "QUARRY_KB__MAX_UPLOAD_BYTES" in error["message"]
    assert not {"small.txt", "big.txt"} & set(_documents(client))


def test_a_body_that_is_not_multipart_is_a_400(client: httpx.Client) -> None:
    boundary = "b"
    answer = client.post(
        "/knowledge-bases/bounded/documents",
        content=b"--b\r\nnot a header line at all",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 400, answer.text
