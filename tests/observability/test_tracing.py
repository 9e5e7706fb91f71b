"""OpenTelemetry traces, received by an OTLP/HTTP receiver on loopback and checked span by span: a chat completion
(openai SDK), a streamed /v1/messages (anthropic SDK), a throttled call retried, a `kb:` answer, a refused key, a
caller's traceparent continued, and no prompt text unless `tracing.content` is on."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from quarry.observability import Tracing
from quarry.server import create_app
from quarry.settings import EmulatorSettings, Settings, TracingSettings
from tests.conftest import SDKs, ServerThread, bedrock_with_key
from tests.observability.conftest import HAIKU, KEY, gateway_with_tracing
from tests.observability.otlp import Receiver, Span

SECRET = "the launch code is xyzzy-plugh"
PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


def _one(spans: list[Span], name: str) -> Span:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, (name, [span.name for span in spans])
    return found[0]


def _server(spans: list[Span]) -> Span:
    servers = [span for span in spans if span.kind == "SERVER"]
    assert len(servers) == 1, [span.name for span in spans]
    return servers[0]


def _texts(spans: list[Span]) -> str:
    return repr([(span.name, span.attributes, span.events) for span in spans])


def test_a_chat_completion_is_one_trace_of_admission_and_an_upstream_attempt(
    sdk: SDKs, gateway: str, receiver: tuple[Receiver, str]
) -> None:
    raw = sdk.openai(f"{gateway}/v1", KEY).chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": SECRET}], max_tokens=50
    )
    completion = raw.parse()
    trace_id = raw.headers["x-quarry-trace-id"]
    spans = receiver[0].trace(trace_id)
    server = _server(spans)
    assert server.name == f"chat {HAIKU}"
    assert server.parent_id == ""  # a new trace: the caller sent no traceparent
    assert server.resource["service.name"] == "quarry-test"
    attributes = server.attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["gen_ai.request.model"] == HAIKU
    assert attributes["gen_ai.response.model"] == HAIKU
    assert attributes["gen_ai.request.max_tokens"] == 50
    assert attributes["gen_ai.response.finish_reasons"] == ["end_turn"]  # Bedrock's name for it
    assert attributes["gen_ai.usage.input_tokens"] == completion.usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == completion.usage.completion_tokens
    assert attributes["http.response.status_code"] == 200
    assert attributes["quarry.api"] == "chat.completions"
    assert attributes["quarry.request_id"] == raw.headers["x-request-id"]
    assert attributes["quarry.overhead_ms"] >= 0
    assert "error.type" not in attributes
    assert not server.error
    authenticate, admit = _one(spans, "quarry.authenticate"), _one(spans, "quarry.admit")
    upstream = [span for span in spans if span.kind == "CLIENT"]
    assert len(upstream) == 1
    attempt = upstream[0]
    assert attempt.name == f"chat {HAIKU}"
    assert attempt.attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attempt.attributes["gen_ai.request.model"] == HAIKU
    assert attempt.attributes["quarry.bedrock.operation"] == "converse"
    assert attempt.attributes["quarry.attempt"] == 1
    assert attempt.attributes["server.address"] == "127.0.0.1"
    assert attempt.attributes["cloud.region"]
    assert attempt.attributes["http.response.status_code"] == 200
    for child in (authenticate, admit, attempt):
        assert child.parent_id == server.span_id
        assert server.start_ns <= child.start_ns <= child.end_ns <= server.end_ns
    assert authenticate.end_ns <= admit.start_ns <= admit.end_ns <= attempt.start_ns
    assert "xyzzy" not in _texts(spans)  # content is off: no prompt text anywhere


def test_a_streamed_message_has_a_stream_span_with_its_first_token(
    sdk: SDKs, gateway: str, receiver: tuple[Receiver, str]
) -> None:
    client = sdk.anthropic(gateway, KEY)
    with client.messages.with_streaming_response.create(
        model=HAIKU, max_tokens=40, stream=True, messages=[{"role": "user", "content": "[[emulator: words=200]]"}]
    ) as response:
        trace_id = response.headers["x-quarry-trace-id"]
        assert sum(1 for _ in response.iter_lines()) > 0
    spans = receiver[0].trace(trace_id)
    server = _server(spans)
    stream = _one(spans, "stream")
    assert stream.parent_id == server.span_id
    assert stream.events == ["gen_ai.first_token", "gen_ai.stream.end"]
    assert server.attributes["quarry.api"] == "messages"
    assert server.attributes["gen_ai.usage.output_tokens"] > 0
    assert server.attributes["gen_ai.response.finish_reasons"] == ["max_tokens"]  # 40 tokens cut the 200 words
    attempt = next(span for span in spans if span.kind == "CLIENT")
    assert attempt.attributes["quarry.bedrock.operation"] == "invoke-with-response-stream"
    assert attempt.end_ns <= stream.start_ns <= stream.end_ns <= server.end_ns


def test_each_retry_of_a_throttled_call_is_its_own_attempt_span(
    sdk: SDKs, gateway: str, receiver: tuple[Receiver, str]
) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "[[emulator: throttle]]"}])
    trace_id = refused.value.response.headers["x-quarry-trace-id"]
    spans = receiver[0].trace(trace_id)
    server = _server(spans)
    attempts = sorted((span for span in spans if span.kind == "CLIENT"), key=lambda span: span.start_ns)
    assert [span.attributes["quarry.attempt"] for span in attempts] == [1, 2]  # max_attempts = 2
    for attempt in attempts:
        assert attempt.parent_id == server.span_id
        assert attempt.error
        assert attempt.attributes["error.type"] == "ThrottlingException"
        assert attempt.attributes["http.response.status_code"] == 429
        assert attempt.attributes["gen_ai.request.model"] == HAIKU
    assert attempts[0].end_ns <= attempts[1].start_ns
    assert server.error
    assert server.attributes["error.type"] == "RateLimited"
    assert server.attributes["http.response.status_code"] == 429


def test_a_call_throttled_once_then_answered_shows_both_attempts(
    sdk: SDKs, serve: Any, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    # The emulator's seeded fault dice: with seed 4 at a rate of 0.5 its first call is throttled, its second is not
    # (the dice are rolled once per runtime call, so a run replays exactly).
    faulty = EmulatorSettings(fault_rate=0.5, seed=4)
    gateway = gateway_with_tracing(serve, tmp_path, receiver[1], emulator=faulty)
    raw = sdk.openai(f"{gateway}/v1", KEY).chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": "hello"}], max_tokens=20
    )
    assert raw.parse().choices[0].message.content
    spans = receiver[0].trace(raw.headers["x-quarry-trace-id"])
    server = _server(spans)
    assert not server.error
    assert server.attributes["http.response.status_code"] == 200
    first, second = sorted((span for span in spans if span.kind == "CLIENT"), key=lambda span: span.start_ns)
    assert first.attributes["quarry.attempt"] == 1
    assert first.error
    assert first.attributes["error.type"] == "ThrottlingException"
    assert second.attributes["quarry.attempt"] == 2
    assert not second.error
    assert second.attributes["http.response.status_code"] == 200
    assert first.parent_id == second.parent_id == server.span_id
    assert first.end_ns <= second.start_ns


def test_a_refused_key_is_an_admission_span_with_its_error(gateway: str, receiver: tuple[Receiver, str]) -> None:
    answer = httpx.post(
        f"{gateway}/v1/chat/completions",
        headers={"Authorization": "Bearer sk-wrong"},
        json={"model": HAIKU, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 401
    trace_id = answer.headers["x-quarry-trace-id"]
    spans = receiver[0].trace(trace_id)
    server = _server(spans)
    assert server.error
    assert server.attributes["error.type"] == "AuthenticationFailed"
    authenticate = _one(spans, "quarry.authenticate")
    assert authenticate.parent_id == server.span_id
    assert authenticate.error
    assert authenticate.attributes["error.type"] == "AuthenticationFailed"
    assert not [span for span in spans if span.kind == "CLIENT"]  # nothing reached Bedrock


def test_a_callers_traceparent_is_continued(gateway: str, receiver: tuple[Receiver, str]) -> None:
    answer = httpx.get(
        f"{gateway}/v1/models",
        headers={"Authorization": f"Bearer {KEY}", "traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"},
    )
    assert answer.status_code == 200
    assert answer.headers["x-quarry-trace-id"] == PARENT_TRACE
    server = _server(receiver[0].trace(PARENT_TRACE))
    assert server.parent_id == PARENT_SPAN


def test_a_knowledge_base_answer_has_a_retrieval_span(
    sdk: SDKs, gateway: str, client: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    assert client.post("/knowledge-bases", json={"name": "traced"}).status_code == 201
    text = b"Production deploys run every weekday at noon. A failed deploy rolls back within five minutes.\n"
    uploaded = client.post("/knowledge-bases/traced/documents", files=[("file", ("deploys.txt", text))])
    assert uploaded.status_code == 200, uploaded.text
    raw = sdk.openai(f"{gateway}/v1", KEY).chat.completions.with_raw_response.create(
        model=f"kb:traced:{HAIKU}", messages=[{"role": "user", "content": "When do production deploys run?"}]
    )
    assert raw.parse().choices[0].message.content
    spans = receiver[0].trace(raw.headers["x-quarry-trace-id"])
    server = _server(spans)
    retrieval = _one(spans, "retrieval")
    assert retrieval.parent_id == server.span_id
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
    assert retrieval.attributes["gen_ai.data_source.id"] == "traced"
    embedding = [span for span in spans if span.kind == "CLIENT" and span.parent_id == retrieval.span_id]
    assert embedding
    assert embedding[0].attributes["gen_ai.operation.name"] == "embeddings"
    answering = [span for span in spans if span.kind == "CLIENT" and span.parent_id == server.span_id]
    assert [span.attributes["gen_ai.request.model"] for span in answering] == [HAIKU]
    assert retrieval.end_ns <= answering[0].start_ns


def test_content_reaches_spans_only_when_opted_in(
    sdk: SDKs, serve: Any, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    gateway = gateway_with_tracing(serve, tmp_path, receiver[1], content=True)
    raw = sdk.openai(f"{gateway}/v1", KEY).chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": SECRET}], max_tokens=20
    )
    spans = receiver[0].trace(raw.headers["x-quarry-trace-id"])
    attempt = next(span for span in spans if span.kind == "CLIENT")
    assert "xyzzy-plugh" in attempt.attributes["gen_ai.input.messages"]


def test_spans_still_queued_are_sent_when_the_app_stops(receiver: tuple[Receiver, str], tmp_path: Path) -> None:
    tracing = TracingSettings(otlp_endpoint=receiver[1], export_delay_ms=600_000)  # no batch would leave on its own
    settings = Settings(backend="emulator", api_key=KEY, data_dir=tmp_path, tracing=tracing)  # type: ignore[arg-type]
    with ServerThread(create_app(settings), lifespan="on") as server:
        answer = httpx.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        assert answer.status_code == 200
    server_span = _server(receiver[0].trace(answer.headers["x-quarry-trace-id"]))
    assert server_span.name == "GET models"


def test_tracing_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # what an install without the extra looks like
    with pytest.raises(RuntimeError, match=r"quarry\[otel\]"):
        Tracing(TracingSettings(otlp_endpoint="http://127.0.0.1:4318/v1/traces"))


def test_tracing_is_off_without_an_endpoint() -> None:
    assert Tracing.configured(TracingSettings()) is None


def test_bedrocks_own_api_is_traced_and_its_relay_is_an_attempt(
    gateway: str, receiver: tuple[Receiver, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = bedrock_with_key(gateway, KEY, monkeypatch, tmp_path)
    answer = runtime.converse(modelId=HAIKU, messages=[{"role": "user", "content": [{"text": SECRET}]}])
    runtime.close()
    spans = receiver[0].trace(answer["ResponseMetadata"]["HTTPHeaders"]["x-quarry-trace-id"])
    server = _server(spans)
    assert server.name == f"chat {HAIKU}"
    assert server.attributes["gen_ai.usage.output_tokens"] == answer["usage"]["outputTokens"]
    attempt = next(span for span in spans if span.kind == "CLIENT")
    assert attempt.parent_id == server.span_id
    assert attempt.attributes["quarry.bedrock.operation"] == "converse"
    assert attempt.attributes["http.response.status_code"] == 200
    assert "xyzzy" not in _texts(spans)
