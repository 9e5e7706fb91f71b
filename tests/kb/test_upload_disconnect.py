"""A client that goes away in the middle of a multipart upload is a client disconnect, not a server error: no 500 in
the access log or the metrics, no error logged, over a real socket that sends half the body and closes."""

from __future__ import annotations

import logging
import re
import socket
import time
from typing import Any

import httpx
import orjson
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.api.conftest import KEY

PATH = "/v1/knowledge-bases/cut/documents"
BOUNDARY = "quarry-cut-boundary"


@pytest.fixture(scope="module")
def gateway(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    settings = Settings(backend="emulator", api_key=KEY, data_dir=tmp_path_factory.mktemp("kb-cut"))  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    created = httpx.post(f"{url}/v1/knowledge-bases", json={"name": "cut"}, headers={"Authorization": f"Bearer {KEY}"})
    assert created.status_code == 201, created.text
    return url


def _half_an_upload(url: str) -> None:
    """A multipart upload whose Content-Length promises twice what is sent before the socket closes."""
    part = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="cut.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode() + b"The river cuts the stone. " * 2000
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {2 * len(part)}\r\n\r\n"
    ).encode()
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(head + part)
        time.sleep(0.2)  # the server is reading the body, waiting for the rest, when the client goes


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        orjson.loads(r.getMessage()) for r in caplog.records if r.name == "quarry.access" and PATH in r.getMessage()
    ]


def test_an_upload_cut_off_mid_body_is_logged_as_a_client_disconnect(
    gateway: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        _half_an_upload(gateway)
        deadline = time.monotonic() + 10
        while not _access_lines(caplog):  # the access line is written once the server has seen the client go
            assert time.monotonic() < deadline, "no access line for the cut upload"
            time.sleep(0.05)
    [line] = _access_lines(caplog)
    assert line["status"] == 499, line  # nginx's "client closed request": a 4xx, the client's doing
    assert line["error_type"] == "ClientDisconnected"
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
    metrics = httpx.get(f"{gateway}/metrics").text
    assert re.search(r'quarry_requests_total\{api="kb\.documents\.upload",model="",status="499"\} 1\.0', metrics)
    assert not re.search(r'status="5\d\d"', metrics)


def test_the_knowledge_base_is_untouched_and_still_takes_uploads(gateway: str) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    files = {"file": ("whole.txt", b"The river cuts the stone, slowly.")}
    answer = httpx.post(f"{gateway}{PATH}", files=files, headers=auth, timeout=30)
    assert answer.status_code == 200, answer.text
    documents = httpx.get(f"{gateway}{PATH}", headers=auth).json()["data"]
    assert [document["name"] for document in documents] == ["whole.txt"]
