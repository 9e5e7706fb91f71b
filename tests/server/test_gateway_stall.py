"""The gateway behind the connection guard: a body cut for stalling is the client's doing, not a server error."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import orjson
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.server.conftest import GUARD_S, Connect, GuardedServer, read_until_closed


def test_a_stalled_chat_body_is_a_408_and_logs_no_server_error(
    connect: Connect, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(backend="emulator", data_dir=tmp_path, http_body_timeout_s=0.5)  # type: ignore[arg-type]
    app = create_app(settings)
    with GuardedServer(app, lifespan="on", http_body_timeout_s=0.5) as server, caplog.at_level(logging.INFO):
        slow = connect(server.url)
        slow.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 200\r\n\r\n{"model": "gpt-4o-mini", "messages": ['
        )
        answer = read_until_closed(slow)
        deadline = time.monotonic() + GUARD_S
        while not (access := [r.getMessage() for r in caplog.records if r.name == "quarry.access"]):
            assert time.monotonic() < deadline, "no access line for the stalled request"
            time.sleep(0.05)
    assert answer.startswith(b"HTTP/1.1 408 ")
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
    # The body reader saw the client cut off: logged as a client disconnect (nginx's 499), not a 400 or a 500.
    [line] = [orjson.loads(message) for message in access]
    assert (line["status"], line["error_type"]) == (499, "ClientDisconnected")
