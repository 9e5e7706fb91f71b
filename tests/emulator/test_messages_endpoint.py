"""Bedrock's native Messages endpoint (`POST /anthropic/v1/messages`) over real sockets: the official `anthropic` SDK
pointed at the emulator with a Bedrock API key, and raw SigV4-signed requests (botocore's signer, sent with httpx)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from quarry.emulator import EmulatorApp, EmulatorConfig
from tests.conftest import SDKs, png
from tests.emulator.conftest import CREDENTIALS, client

OPUS_55 = "us.anthropic.claude-opus-5-5"  # serves 2023-06-01 and 2026-10-21; thinks by default once the rules land
OPUS_48 = "us.anthropic.claude-opus-4-8"  # serves both versions and thinks only when asked: exact event sequences
OPUS_46 = "global.anthropic.claude-opus-4-6-v1"  # serves 2023-06-01 only
OLD_VERSION = {"anthropic-version": "2023-06-01"}
KEY = "bedrock-api-key-test"
TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


@pytest.fixture(scope="module")
def app() -> EmulatorApp:
    return EmulatorApp(EmulatorConfig())


@pytest.fixture(scope="module")
def base(serve: Callable[[Any], Any], app: EmulatorApp) -> str:
    return f"{serve(app).url}/anthropic"


@pytest.fixture
def claude(sdk: SDKs, base: str) -> Any:
    """The SDK as AWS's quickstart sets it up: base URL …/anthropic, the Bedrock API key as the SDK's key."""
    return sdk.anthropic(base, KEY)


@pytest.fixture
def claude_2023(sdk: SDKs, base: str) -> Any:
    return sdk.anthropic(base, KEY, default_headers=OLD_VERSION)


def post(base: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    sent = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **headers}
    return httpx.post(f"{base}/v1/messages", json=body, headers=sent)


def ask(text: str, model: str = OPUS_55, **fields: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 2048, "messages": [{"role": "user", "content": text}], **fields}


def anthropic_error(response: httpx.Response, status: int, kind: str, exception: str) -> str:
    """The route's error: Bedrock's status and x-amzn-ErrorType, Anthropic's body; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["x-amzn-errortype"].startswith(f"{exception}:")
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert body["request_id"] == response.headers["x-amzn-requestid"]
    message: str = body["error"]["message"]
    return message


def sse(text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for frame in text.strip().split("\n\n"):
        event, data = frame.split("\n")
        assert event.startswith("event: ")
        assert data.startswith("data: ")
        payload = orjson.loads(data.removeprefix("data: "))
        assert payload["type"] == event.removeprefix("event: ")
        yield payload["type"], payload


def texts(message: Any) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


# --- whole and streamed answers through the SDK -------------------------------------------------------------------


def test_sdk_gets_a_whole_message_that_echoes_the_model(claude: Any, app: EmulatorApp) -> None:
    before = app.requests.by_operation["Messages"]
    message = claude.messages.create(model=OPUS_55, max_tokens=1024, messages=[{"role": "user", "content": "Hi"}])
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id.startswith("msg_bdrk_")
    assert message.model == OPUS_55
    assert 'You said: "Hi"' in texts(message)
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert app.requests.by_operation["Messages"] == before + 1


def test_sdk_stream_has_anthropics_event_order_and_final_message(claude: Any) -> None:
    request = {"model": OPUS_55, "max_tokens": 1024, "messages": [{"role": "user", "content": "Stream this"}]}
    events = list(claude.messages.create(**request, stream=True))
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds[1] == "content_block_start"  # the SDK drops `ping`; test_raw_stream_is_server_sent_events sees it
    assert kinds.count("content_block_start") == kinds.count("content_block_stop")
    assert events[0].message.model == OPUS_55
    assert events[0].message.content == []
    assert events[-2].usage.output_tokens > 0
    with claude.messages.stream(**request) as stream:
        final = stream.get_final_message()
    assert 'You said: "Stream this"' in texts(final)
    assert final.model == OPUS_55
    assert final.stop_reason == "end_turn"


def test_raw_stream_is_server_sent_events(base: str) -> None:
    response = post(base, ask("Raw", model=OPUS_48, stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = list(sse(response.text))
    kinds = [kind for kind, _ in events]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    assert kinds[3:-3] == ["content_block_delta"] * (len(kinds) - 6)
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert events[-1][1] == {"type": "message_stop"}  # no amazon-bedrock-invocationMetrics: that is InvokeModel's
    text = "".join(e["delta"]["text"] for kind, e in events if kind == "content_block_delta")
    assert text == 'You said: "Raw"'


# --- authentication ----------------------------------------------------------------------------------------------


def signed(url: str, body: bytes, region: str = "us-east-1") -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"content-type": "application/json", "anthropic-version": "2023-06-01"},
    )
    credentials = Credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
    SigV4Auth(credentials, "bedrock", region).add_auth(request)
    return dict(request.headers.items())


def test_sigv4_signed_request_is_answered_in_the_signers_region(base: str) -> None:
    url = f"{base}/v1/messages"
    body = orjson.dumps(ask("Signed", model="eu.anthropic.claude-opus-5-5"))
    headers = signed(url, body, "eu-west-1")
    assert "Credential=" in headers["Authorization"]
    assert "/eu-west-1/bedrock/aws4_request" in headers["Authorization"]
    response = httpx.post(url, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "eu.anthropic.claude-opus-5-5"
    # The same eu. profile from us-east-1 is refused, as Bedrock refuses a geography's profile outside it.
    refused = httpx.post(url, content=body, headers=signed(url, body, "us-east-1"))
    message = anthropic_error(refused, 400, "invalid_request_error", "ValidationException")
    assert "not available in us-east-1" in message


def test_bearer_api_key_carries_its_region(base: str) -> None:
    presigned = (
        "bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIDEXAMPLE%2F20261204%2Feu-west-1%2Fbedrock%2Faws4_request&Version=1"
    )
    token = "bedrock-api-key-" + base64.b64encode(presigned.encode()).decode()
    body = ask("From Europe", model="eu.anthropic.claude-opus-5-5")
    response = post(base, body, **{"x-api-key": "", "authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


def test_no_credential_is_a_403_like_bedrocks(base: str) -> None:
    response = httpx.post(f"{base}/v1/messages", json=ask("hi"), headers=OLD_VERSION)
    message = anthropic_error(response, 403, "permission_error", "MissingAuthenticationTokenException")
    assert message == "Missing Authentication Token"


def test_count_tokens_is_not_served_on_bedrock_runtime(claude: Any, base: str) -> None:
    response = httpx.post(
        f"{base}/v1/messages/count_tokens",
        json={"model": OPUS_55, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": KEY, **OLD_VERSION},
    )
    assert response.status_code == 404
    assert response.headers["x-amzn-errortype"].startswith("UnknownOperationException:")
    assert response.json() == {"message": "No operation matches POST /anthropic/v1/messages/count_tokens."}
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.count_tokens(model=OPUS_55, messages=[{"role": "user", "content": "hi"}])


# --- models and versions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("anthropic.claude-opus-5-5", "with on-demand throughput isn\u2019t supported"),
        ("us.anthropic.claude-nothing-1", "The provided model identifier is invalid."),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "is not served by the Messages API"),
        ("amazon.nova-pro-v1:0", "is not served by the Messages API"),
    ],
)
def test_models_the_route_does_not_serve(base: str, model: str, expected: str) -> None:
    message = anthropic_error(post(base, ask("hi", model=model)), 400, "invalid_request_error", "ValidationException")
    assert expected in message


def test_sdk_raises_bad_request_for_a_bare_profile_only_id(claude: Any) -> None:
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        claude.messages.create(
            model="anthropic.claude-opus-5-5", max_tokens=64, messages=[{"role": "user", "content": "x"}]
        )
    assert "inference profile" in excinfo.value.message


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"anthropic-version": ""}, "anthropic-version: header is required"),
        ({"anthropic-version": "2024-01-01"}, "'2024-01-01' is not a valid version"),
        ({"anthropic-version": "bedrock-2023-05-31"}, "is not a valid version"),
    ],
)
def test_missing_or_unknown_version_is_refused(base: str, headers: dict[str, str], expected: str) -> None:
    message = anthropic_error(post(base, ask("hi"), **headers), 400, "invalid_request_error", "ValidationException")
    assert expected in message


def test_2026_10_21_is_refused_for_a_model_before_4_7(claude: Any, claude_2023: Any) -> None:
    request = {"model": OPUS_46, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        claude.messages.create(**request)  # the installed SDK sends 2026-10-21
    assert excinfo.value.status_code == 400
    assert "anthropic-version 2026-10-21 is not supported" in excinfo.value.message
    assert claude_2023.messages.create(**request).model == OPUS_46


@pytest.mark.parametrize("field", ["temperature", "top_p", "top_k"])
def test_2026_10_21_refuses_sampling_even_at_its_default(base: str, field: str) -> None:
    value = {"temperature": 1.0, "top_p": 1.0, "top_k": 0}[field]
    response = post(base, ask("hi", **{field: value}), **{"anthropic-version": "2026-10-21"})
    message = anthropic_error(response, 400, "invalid_request_error", "ValidationException")
    assert message.startswith(f"{field}: Extra inputs are not permitted")


def test_2023_06_01_keeps_sampling_on_an_older_model(base: str) -> None:
    response = post(base, ask("hi", model=OPUS_46, temperature=0.5, top_k=40))
    assert response.status_code == 200, response.text


def test_2026_10_21_refuses_documents_in_assistant_messages_and_citations_from_users(base: str) -> None:
    pdf = base64.b64encode(b"%PDF-1.4 a tiny document").decode()
    document = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf}}
    cited = {"type": "text", "text": "As said", "citations": [{"type": "char_location", "cited_text": "x"}]}
    bodies = {
        "document": [
            {"role": "user", "content": "read"},
            {"role": "assistant", "content": [document]},
            {"role": "user", "content": "and?"},
        ],
        "citations": [{"role": "user", "content": [cited]}],
    }
    for rule, messages in bodies.items():
        body = {"model": OPUS_55, "max_tokens": 256, "messages": messages}
        new = post(base, body, **{"anthropic-version": "2026-10-21"})
        message = anthropic_error(new, 400, "invalid_request_error", "ValidationException")
        assert f"`{rule}" in message
        assert "2026-10-21" in message
    # Under 2023-06-01 the same document in the user's turn is read, not refused.
    read = post(base, {"model": OPUS_55, "max_tokens": 256, "messages": [{"role": "user", "content": [document]}]})
    assert read.status_code == 200, read.text


# --- content: tools, thinking, media, cache ----------------------------------------------------------------------


def test_tool_loop_through_the_sdk(claude: Any) -> None:
    question = {"role": "user", "content": "What is the get_weather in Paris?"}
    first = claude.messages.create(model=OPUS_55, max_tokens=2048, tools=TOOLS, messages=[question])
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather"
    assert isinstance(call.input["city"], str)
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "18 degrees and sunny"}
    history = [question, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}]
    second = claude.messages.create(model=OPUS_55, max_tokens=2048, tools=TOOLS, messages=history)
    assert second.stop_reason == "end_turn"
    assert "The get_weather tool returned: 18 degrees and sunny" in texts(second)


def test_streamed_tool_input_arrives_as_input_json_deltas(claude: Any) -> None:
    request = {"model": OPUS_55, "max_tokens": 2048, "tools": TOOLS}
    with claude.messages.stream(**request, messages=[{"role": "user", "content": "get_weather for Oslo"}]) as stream:
        deltas = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert "input_json_delta" in deltas
    call = next(block for block in final.content if block.type == "tool_use")
    assert call.name == "get_weather"
    assert "city" in call.input


def test_thinking_is_signed_and_the_signature_is_checked_on_the_way_back(claude_2023: Any, base: str) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    request = {"model": OPUS_46, "max_tokens": 4096, "thinking": thinking, "tools": TOOLS}
    question = {"role": "user", "content": "Call get_weather for Rome"}
    events = [e for e in claude_2023.messages.create(**request, messages=[question], stream=True)]
    delta_kinds = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert delta_kinds[0] == "thinking_delta"
    assert "signature_delta" in delta_kinds
    first = claude_2023.messages.create(**request, messages=[question])
    thought = first.content[0]
    assert thought.type == "thinking"
    assert thought.signature
    call = next(block for block in first.content if block.type == "tool_use")
    answer = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "warm"}]}
    kept = claude_2023.messages.create(
        **request, messages=[question, {"role": "assistant", "content": first.content}, answer]
    )
    assert "warm" in texts(kept)
    forged = [{"type": "thinking", "thinking": thought.thinking + " (edited)", "signature": thought.signature}]
    forged += [block.model_dump() for block in first.content[1:]]
    history = [question, {"role": "assistant", "content": forged}, answer]
    response = post(base, {**request, "messages": history})
    message = anthropic_error(response, 400, "invalid_request_error", "ValidationException")
    assert "Invalid `signature` in `thinking` block" in message


def test_images_and_documents_in_base64(claude: Any) -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(png(2, 2)).decode()},
    }
    pdf = base64.b64encode(b"%PDF-1.4 a tiny document").decode()
    document = {
        "type": "document",
        "title": "Report",
        "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
    }
    content = [image, document, {"type": "text", "text": "What are these?"}]
    message = claude.messages.create(model=OPUS_55, max_tokens=1024, messages=[{"role": "user", "content": content}])
    assert "1 image (png" in texts(message)
    assert "1 document (pdf 'Report'" in texts(message)


def test_cache_usage_fields_write_then_read(claude: Any) -> None:
    system = [{"type": "text", "text": "Background. " * 3000, "cache_control": {"type": "ephemeral"}}]
    request = {"model": OPUS_55, "max_tokens": 1024, "system": system}
    first = claude.messages.create(**request, messages=[{"role": "user", "content": "One"}])
    second = claude.messages.create(**request, messages=[{"role": "user", "content": "Two"}])
    assert first.usage.cache_creation_input_tokens > 0
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0


def test_betas_come_from_the_anthropic_beta_header(base: str) -> None:
    ok = post(base, ask("hi"), **{"anthropic-beta": "context-1m-2025-08-07, interleaved-thinking-2025-05-14"})
    assert ok.status_code == 200, ok.text
    refused = post(base, ask("hi"), **{"anthropic-beta": "not-a-beta-2099-01-01"})
    assert anthropic_error(refused, 400, "invalid_request_error", "ValidationException") == "invalid beta flag"
    in_body = post(base, ask("hi", anthropic_version="bedrock-2023-05-31"))
    message = anthropic_error(in_body, 400, "invalid_request_error", "ValidationException")
    assert message == "anthropic_version: Extra inputs are not permitted"


def test_body_rules_are_invoke_models(base: str) -> None:
    """The body goes through InvokeModel's checks: the same Bedrock messages for the same mistakes."""
    no_tokens = anthropic_error(post(base, {"model": OPUS_55, "messages": [{"role": "user", "content": "x"}]}), 400,
                                "invalid_request_error", "ValidationException")  # fmt: skip
    assert "required key [max_tokens] not found" in no_tokens
    assistant_first = ask("x") | {"messages": [{"role": "assistant", "content": "x"}]}
    message = anthropic_error(post(base, assistant_first), 400, "invalid_request_error", "ValidationException")
    assert "must start with a user message" in message


def test_same_body_same_answer_and_same_refusals_as_invoke_model(base: str) -> None:
    """One validation and one model behind both surfaces: only the envelope differs."""
    runtime = client("bedrock-runtime", base.removesuffix("/anthropic"))
    try:
        fields = {"max_tokens": 512, "tools": TOOLS, "messages": [{"role": "user", "content": "get_weather in Lima"}]}
        invoked = orjson.loads(
            runtime.invoke_model(
                modelId=OPUS_48, body=orjson.dumps({"anthropic_version": "bedrock-2023-05-31", **fields})
            )["body"].read()
        )
        native = post(base, {"model": OPUS_48, **fields}).json()
        assert native["content"] == invoked["content"]
        assert native["usage"] == invoked["usage"]
        assert native["model"] == OPUS_48
        bad = {**fields, "max_tokens": 10**7}
        with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
            runtime.invoke_model(modelId=OPUS_48, body=orjson.dumps({"anthropic_version": "bedrock-2023-05-31", **bad}))
        refused = post(base, {"model": OPUS_48, **bad})
        message = anthropic_error(refused, 400, "invalid_request_error", "ValidationException")
        assert message == excinfo.value.response["Error"]["Message"]
    finally:
        runtime.close()


# --- faults ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("directive", "status", "kind", "exception"),
    [
        ("throttle", 429, "rate_limit_error", "ThrottlingException"),
        ("error=ServiceUnavailableException", 503, "overloaded_error", "ServiceUnavailableException"),
        ("error=InternalServerException", 500, "api_error", "InternalServerException"),
        ("error=ModelTimeoutException", 408, "timeout_error", "ModelTimeoutException"),
    ],
)
def test_fault_directives_answer_in_anthropics_shape(
    base: str, directive: str, status: int, kind: str, exception: str
) -> None:
    anthropic_error(post(base, ask(f"[[emulator: {directive}]] hi")), status, kind, exception)


def test_sdk_sees_a_throttle_as_rate_limit_error(claude: Any) -> None:
    with pytest.raises(anthropic.RateLimitError) as excinfo:
        claude.messages.create(
            model=OPUS_55, max_tokens=64, messages=[{"role": "user", "content": "[[emulator: throttle]]"}]
        )
    body = excinfo.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "rate_limit_error"


def test_mid_stream_fault_is_an_sse_error_event(base: str, claude: Any) -> None:
    text = "[[emulator: stream-error=ServiceUnavailableException, stream-error-after=3]] hello there"
    response = post(base, ask(text, model=OPUS_48, stream=True))
    assert response.status_code == 200
    events = list(sse(response.text))
    assert [kind for kind, _ in events] == ["message_start", "content_block_start", "ping", "error"]
    assert events[-1][1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "The service is temporarily unavailable. Try again later."},
    }
    with pytest.raises(anthropic.APIStatusError) as excinfo:
        list(
            claude.messages.create(
                model=OPUS_55, max_tokens=64, messages=[{"role": "user", "content": text}], stream=True
            )
        )
    assert "overloaded_error" in str(excinfo.value)


async def test_async_sdk_streams_text(base: str) -> None:
    async with anthropic.AsyncAnthropic(base_url=base, api_key=KEY, max_retries=0) as claude:
        request = {
            "model": OPUS_48,
            "max_tokens": 256,
            "messages": [{"role": "user", "content": "[[emulator: words=40]]"}],
        }
        async with claude.messages.stream(**request) as stream:
            pieces = [text async for text in stream.text_stream]
            final = await stream.get_final_message()
    assert len(pieces) >= 40
    assert "".join(pieces) == texts(final)
    assert final.usage.output_tokens > 0


def test_fault_rate_applies_to_the_route_and_counts_the_call(serve: Callable[[Any], Any]) -> None:
    flaky = EmulatorApp(EmulatorConfig(fault_rate=1.0))
    base = f"{serve(flaky).url}/anthropic"
    response = post(base, ask("hi"))
    assert response.status_code in (408, 429, 500, 503)
    assert response.json()["error"]["type"] in ("timeout_error", "rate_limit_error", "api_error", "overloaded_error")
    assert flaky.requests.by_operation == {"Messages": 1}
