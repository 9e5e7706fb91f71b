"""Quarry's own overhead: `quarry_overhead_seconds` by API is the latency less the wait on Bedrock (a stream's
included), and it reaches the access log; log lines written while a request is served carry its ids."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from quarry.exchange import Exchange, serve_exchange
from quarry.observability import ACCESS_LOGGER, JsonFormatter
from tests.observability.conftest import HAIKU

DELAY_MS = 600  # the emulator's pause before its first byte: Bedrock's time, not Quarry's


def _series(text: str, name: str, api: str) -> float:
    match = re.search(rf'^{name}\{{api="{re.escape(api)}"\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _overhead(client: httpx.Client, api: str) -> tuple[float, float]:
    text = client.get("/metrics").text
    return _series(text, "quarry_overhead_seconds_count", api), _series(text, "quarry_overhead_seconds_sum", api)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access() -> Iterator[_Lines]:
    logger = logging.getLogger(ACCESS_LOGGER)
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def _access_line(access: _Lines, request_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for record in access.records:
            line: dict[str, object] = orjson.loads(record.getMessage())
            if line["request_id"] == request_id:
                return line
        time.sleep(0.01)
    raise AssertionError(f"no access line for {request_id}")


@pytest.mark.parametrize("stream", [False, True])
def test_the_wait_on_bedrock_is_not_counted_as_overhead(
    gateway: str, client: httpx.Client, access: _Lines, stream: bool
) -> None:
    metrics = httpx.Client(base_url=gateway)
    count, total = _overhead(metrics, "chat.completions")
    body = {
        "model": HAIKU,
        "stream": stream,
        "messages": [{"role": "user", "content": f"[[emulator: delay={DELAY_MS}, words=20]]"}],
    }
    started = time.monotonic()
    answer = client.post("/chat/completions", json=body)
    latency = time.monotonic() - started
    assert answer.status_code == 200
    assert answer.text
    line = _access_line(access, answer.headers["x-request-id"])
    assert line["trace_id"] == answer.headers["x-quarry-trace-id"]
    overhead_ms = line["overhead_ms"]
    latency_ms = line["latency_ms"]
    assert isinstance(overhead_ms, float)
    assert isinstance(latency_ms, float)
    assert latency_ms >= DELAY_MS
    assert 0 <= overhead_ms <= latency_ms - DELAY_MS  # the pause was Bedrock's
    after_count, after_total = _overhead(metrics, "chat.completions")
    assert after_count == count + 1
    assert 0 <= after_total - total <= latency - DELAY_MS / 1000
    metrics.close()


def test_log_lines_written_during_a_request_carry_its_ids() -> None:
    exchange = Exchange(request_id="req-1", method="GET", path="/v1/models", trace_id="ab" * 16)
    record = logging.LogRecord("quarry", logging.INFO, __file__, 1, "backend: %s", ("emulator",), None)
    outside = orjson.loads(JsonFormatter().format(record))
    assert "request_id" not in outside
    restore = serve_exchange(exchange)
    try:
        inside = orjson.loads(JsonFormatter().format(record))
    finally:
        restore()
    assert inside["request_id"] == "req-1"
    assert inside["trace_id"] == "ab" * 16
    assert inside["message"] == "backend: emulator"
