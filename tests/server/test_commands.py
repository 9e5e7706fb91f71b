"""`quarry serve`, `quarry emulator` and `quarry ui` all run with the connection limits, configured by QUARRY_*."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SDKs, offline_environment
from tests.server.conftest import Connect, read_until_closed

LIMITS = {"QUARRY_HTTP_HEADER_TIMEOUT_S": "0.5", "QUARRY_HTTP_BODY_TIMEOUT_S": "0.5"}


def _start(command: list[str], banner: str, folder: Path) -> Iterator[str]:
    env = offline_environment(folder) | LIMITS
    process = subprocess.Popen(
        [sys.executable, "-m", "quarry", *command, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not (match := re.search(rf"{banner} (http://127\.0\.0\.1:\d+)", "".join(lines))):
        lines.append(process.stdout.readline())
        assert lines[-1], "".join(lines)
    yield match.group(1)
    process.terminate()
    process.wait(timeout=30)
    process.stdout.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start(["serve"], "Quarry", tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start(["emulator"], "Quarry Bedrock emulator on", tmp_path_factory.mktemp("emulator"))


@pytest.fixture(scope="module")
def toolbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start(["ui"], "Quarry toolbox", tmp_path_factory.mktemp("ui"))


@pytest.mark.parametrize("server", ["gateway", "emulator", "toolbox"])
def test_half_a_request_head_is_cut(server: str, connect: Connect, request: pytest.FixtureRequest) -> None:
    slow = connect(request.getfixturevalue(server))
    slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/")
    answer = read_until_closed(slow)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"QUARRY_HTTP_HEADER_TIMEOUT_S" in answer


def test_gateway_cuts_a_stalled_chat_body(gateway: str, connect: Connect) -> None:
    slow = connect(gateway)
    slow.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 200\r\n\r\n{"model": "gpt-4o-mini", "messages": ['
    )
    answer = read_until_closed(slow)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"QUARRY_HTTP_BODY_TIMEOUT_S" in answer


def test_a_slow_stream_outlives_every_timeout(gateway: str, sdk: SDKs) -> None:
    # 12 words at 4 tokens a second: about 3 s of streaming, six times the header and body timeouts.
    client = sdk.openai(f"{gateway}/v1", "anything")
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "[[emulator: words=12, tps=4]] Hi"}],
        stream=True,
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert len("".join(pieces).split()) == 12
    assert len([piece for piece in pieces if piece]) > 6
