"""Graceful shutdown of a real `quarry serve` process: on SIGTERM it stops accepting, lets streams in flight finish
within `QUARRY_SHUTDOWN_GRACE_S`, cuts what is left at the deadline, and exits. Its stderr is JSON lines."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import offline_environment
from tests.test_serve_cli import QUARRY

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str


@dataclass
class StreamReader:
    """Reads a chat completion stream in a thread, noting each word and how the stream ended."""

    url: str
    words: int
    tokens_per_second: int
    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    error: BaseException | None = None
    started: threading.Event = field(default_factory=threading.Event)
    request_id: str = ""

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._read)
        self.thread.start()

    def _read(self) -> None:
        directive = f"[[emulator: words={self.words}, tps={self.tokens_per_second}]]"
        try:
            with openai.OpenAI(base_url=f"{self.url}/v1", api_key="anything", max_retries=0) as client:
                raw = client.chat.completions.with_raw_response.create(
                    model=MODEL, messages=[{"role": "user", "content": directive}], stream=True
                )
                self.request_id = raw.headers["x-request-id"]
                with raw.parse() as chunks:
                    for chunk in chunks:
                        self.started.set()
                        for choice in chunk.choices:
                            self.text.append(choice.delta.content or "")
                            self.finish_reason = choice.finish_reason or self.finish_reason
        except BaseException as exc:  # the cut stream: whichever error the client raises is the observation
            self.error = exc
        finally:
            self.started.set()

    def words_received(self) -> int:
        return len("".join(self.text).split())


def start(tmp_path: Path, **env: str) -> Served:
    process = subprocess.Popen(
        [*QUARRY, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=offline_environment(tmp_path) | env,
    )
    assert process.stdout is not None
    banner = "".join(process.stdout.readline() for _ in range(2))
    match = re.search(r"Quarry (http://127\.0\.0\.1:\d+)", banner)
    assert match, banner
    return Served(process, match.group(1))


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    server = start(tmp_path, **getattr(request, "param", {}))
    yield server
    if server.process.poll() is None:
        server.process.kill()
    server.process.communicate(timeout=30)


def refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=2)
    except httpx.TransportError:
        return True
    return False


def test_a_stream_in_flight_finishes_whole_after_sigterm(served: Served) -> None:
    stream = StreamReader(served.url, words=100, tokens_per_second=25)
    assert stream.started.wait(30)
    served.process.send_signal(signal.SIGTERM)
    # New connections are refused while the stream goes on.
    deadline = time.monotonic() + 10
    while not refused(served.url):
        assert time.monotonic() < deadline, "still accepting after SIGTERM"
        time.sleep(0.05)
    stream.thread.join(60)
    assert stream.error is None
    assert (stream.words_received(), stream.finish_reason) == (100, "stop")
    _, stderr = served.process.communicate(timeout=30)
    assert served.process.returncode in (0, -signal.SIGTERM)
    lines: list[dict[str, Any]] = [orjson.loads(line) for line in stderr.splitlines() if line.strip()]
    (access,) = [line for line in lines if line.get("request_id") == stream.request_id]
    assert (access["status"], access["stream"], access["api"], access["error_type"]) == (
        200,
        True,
        "chat.completions",
        None,
    )
    assert access["output_tokens"] > 0


@pytest.mark.parametrize("served", [{"QUARRY_SHUTDOWN_GRACE_S": "1"}], indirect=True)
def test_a_stream_longer_than_the_grace_is_cut_and_the_process_exits(served: Served) -> None:
    stream = StreamReader(served.url, words=600, tokens_per_second=20)  # 30 s of stream
    assert stream.started.wait(30)
    signalled = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    _, stderr = served.process.communicate(timeout=30)
    exited_after = time.monotonic() - signalled
    stream.thread.join(30)
    assert exited_after < 1 + 10, f"exited {exited_after:.1f} s after SIGTERM with a 1 s grace"
    assert stream.finish_reason is None
    assert stream.words_received() < 600
    # Still one JSON object per line, the cut stream's access line among them.
    lines = [orjson.loads(line) for line in stderr.splitlines() if line.strip()]
    assert [line["status"] for line in lines if line.get("request_id") == stream.request_id] == [200]
