"""The access log: one JSON line per request on `quarry.access`, with who, what, tokens and timings — and never the
prompt, the answer or the key."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import orjson
import pytest

from quarry.observability import ACCESS_LOGGER, configure_logging
from quarry.server import create_app
from quarry.settings import Settings
from tests.api.conftest import HAIKU, KEY
from tests.conftest import SDKs

FIELDS = {
    "time",
    "request_id",
    "method",
    "path",
    "status",
    "api",
    "key_id",
    "key_name",
    "model",
    "model_asked",
    "stream",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "latency_ms",
    "ttft_ms",
    "overhead_ms",
    "trace_id",
    "error_type",
    "service_tier",
}
SECRET_PROMPT = "the launch code is xyzzy-plugh"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def line(self, request_id: str) -> dict[str, Any]:
        """The request's line, parsed; it is written just after the response's last byte."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for line in self.lines:
                record: dict[str, Any] = orjson.loads(line)
                if record["request_id"] == request_id:
                    return record
            time.sleep(0.01)
        raise AssertionError(f"no access log line for {request_id}")


@pytest.fixture
def access() -> Iterator[Lines]:
    logger = logging.getLogger(ACCESS_LOGGER)
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(scope="module")
def gateway_url(serve: Any, aws_environment: None) -> str:
    url: str = serve(create_app(Settings(backend="bedrock", api_key=KEY)), lifespan="on").url  # type: ignore[arg-type]
    return url


@pytest.mark.parametrize("stream", [False, True])
def test_one_json_line_per_call_without_prompt_answer_or_key(
    sdk: SDKs, gateway_url: str, access: Lines, stream: bool
) -> None:
    client = sdk.openai(f"{gateway_url}/v1", KEY)
    raw = client.chat.completions.with_raw_response.create(
        model=HAIKU,
        messages=[{"role": "user", "content": SECRET_PROMPT}],
        stream=stream,
        stream_options={"include_usage": True} if stream else None,
    )
    parsed = raw.parse()
    if stream:
        chunks = list(parsed)  # type: ignore[arg-type]
        answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = chunks[-1].usage
    else:
        answer = parsed.choices[0].message.content or ""  # type: ignore[union-attr]
        usage = parsed.usage  # type: ignore[union-attr]
    assert usage is not None
    assert SECRET_PROMPT in answer  # the emulator echoes the prompt: the answer would leak it too
    record = access.line(raw.headers["x-request-id"])
    assert set(record) == FIELDS
    assert record | {"time": 0, "latency_ms": 0, "ttft_ms": 0, "overhead_ms": 0} == {
        "time": 0,
        "request_id": raw.headers["x-request-id"],
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
        "api": "chat.completions",
        "key_id": "bootstrap",
        "key_name": record["key_name"],
        "model": HAIKU,
        "model_asked": HAIKU,
        "stream": stream,
        "service_tier": None,  # none asked, none reported: Bedrock's default
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "latency_ms": 0,
        "ttft_ms": 0,
        "overhead_ms": 0,
        "trace_id": None,  # tracing is off
        "error_type": None,
    }
    assert abs(record["time"] - time.time()) < 60
    assert record["latency_ms"] > 0
    assert 0 <= record["overhead_ms"] <= record["latency_ms"]  # Quarry's own part of it
    assert (record["ttft_ms"] is not None) == stream
    line = next(line for line in access.lines if raw.headers["x-request-id"] in line)
    for secret in ("xyzzy", KEY, "You said"):
        assert secret not in line


def test_failures_and_anthropic_calls_are_logged_with_their_error_type(
    sdk: SDKs, gateway_url: str, access: Lines
) -> None:
    client = sdk.anthropic(gateway_url, KEY)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(
            model="claude-3-haiku-20240307",
            max_tokens=50,
            messages=[{"role": "user", "content": f"{SECRET_PROMPT} [[emulator: throttle]]"}],
        )
    record = access.line(caught.value.response.headers["x-request-id"])
    assert (record["api"], record["status"], record["error_type"]) == ("messages", 429, "RateLimited")
    wrong = sdk.anthropic(gateway_url, "sk-wrong-key")
    with pytest.raises(anthropic.AuthenticationError) as refused:
        wrong.models.list()
    record = access.line(refused.value.response.headers["x-request-id"])
    assert (record["status"], record["error_type"], record["key_id"]) == (401, "AuthenticationFailed", None)
    assert not any("xyzzy" in line or "sk-wrong-key" in line for line in access.lines)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_access_log_can_be_turned_off(
    sdk: SDKs, serve: Any, aws_environment: None, access: Lines, enabled: bool
) -> None:
    settings = Settings(backend="bedrock", api_key=KEY, access_log=enabled)  # type: ignore[arg-type]
    closed = threading.Event()
    # listeners given to the app run after its own: once this one has run, the access log has written its line
    app = create_app(settings, listeners=[lambda exchange: closed.set()])
    url = serve(app, lifespan="on").url
    client = sdk.openai(f"{url}/v1", KEY)
    client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "Hi"}])
    assert closed.wait(5)
    assert len(access.lines) == (1 if enabled else 0)


class _Stream:
    """A text stream that keeps what is written (thread-safe enough for one writer at a time)."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        pass


@pytest.fixture
def configured() -> Iterator[_Stream]:
    """The loggers as `quarry serve` configures them, writing to a stream this test reads; put back afterwards."""
    names = ("quarry", "uvicorn", ACCESS_LOGGER)
    saved = {
        name: (lg.handlers[:], lg.filters[:], lg.level, lg.propagate)
        for name in names
        for lg in [logging.getLogger(name)]
    }
    stream = _Stream()
    configure_logging(stream)  # type: ignore[arg-type]  # a TextIO for what logging uses of it
    yield stream
    for name, (handlers, filters, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.filters[:], logger.propagate = handlers, filters, propagate
        logger.setLevel(level)


@pytest.mark.parametrize("filtered", [False, True])
def test_served_as_quarry_serve_logs_each_call_is_one_line_of_json(
    sdk: SDKs, serve: Any, aws_environment: None, configured: _Stream, filtered: bool
) -> None:
    if filtered:  # an operator's filter on the access logger is honoured: the line goes through `logging`
        logging.getLogger(ACCESS_LOGGER).addFilter(lambda record: "models" not in record.getMessage())
    closed = threading.Event()
    app = create_app(Settings(backend="bedrock", api_key=KEY), listeners=[lambda exchange: closed.set()])  # type: ignore[arg-type]
    client = sdk.openai(f"{serve(app, lifespan='on').url}/v1", KEY)
    raw = client.chat.completions.with_raw_response.create(model=HAIKU, messages=[{"role": "user", "content": "Hi"}])
    assert closed.wait(5)
    closed.clear()
    client.models.list()
    assert closed.wait(5)
    lines = [text for text in configured.written if '"request_id"' in text]
    assert all(text.endswith("\n") and text.count("\n") == 1 for text in lines)
    records = [orjson.loads(text) for text in lines]
    assert [(r["path"], r["status"]) for r in records] == [("/v1/chat/completions", 200)] + (
        [] if filtered else [("/v1/models", 200)]
    )
    assert set(records[0]) == FIELDS
    assert records[0]["request_id"] == raw.headers["x-request-id"]
