"""InvokeModel: Claude's native Messages body, and embeddings from Titan and Cohere."""

from __future__ import annotations

import json
import math
from typing import Any

import anthropic
import pytest

from tests.emulator.conftest import HAIKU

ANTHROPIC = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200}


def invoke(runtime: Any, model_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    response = runtime.invoke_model(modelId=model_id, body=json.dumps(body))
    return json.loads(response["body"].read()), response["ResponseMetadata"]["HTTPHeaders"]


def test_claude_answers_with_anthropic_message_json(runtime: Any) -> None:
    body = ANTHROPIC | {
        "system": "be kind",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }
    message, headers = invoke(runtime, HAIKU, body)
    assert message["type"] == "message"
    assert message["id"].startswith("msg_bdrk_")
    assert message["model"] == "claude-3-haiku-20240307"
    assert message["content"] == [{"type": "text", "text": 'You said: "Hi"'}]
    assert message["stop_reason"] == "end_turn"
    assert message["stop_sequence"] is None
    assert headers["x-amzn-bedrock-input-token-count"] == str(message["usage"]["input_tokens"])
    assert headers["x-amzn-bedrock-output-token-count"] == str(message["usage"]["output_tokens"])
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0


def test_claude_tool_use_and_result_round_trip(runtime: Any) -> None:
    tool = {
        "name": "lookup",
        "description": "Find a word",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    first, _ = invoke(
        runtime, HAIKU, ANTHROPIC | {"tools": [tool], "messages": [{"role": "user", "content": "lookup quarry"}]}
    )
    assert first["stop_reason"] == "tool_use"
    call = first["content"][-1]
    assert call["type"] == "tool_use"
    assert call["id"].startswith("tooluse_")
    assert call["input"] == {"q": "quarry"}
    history = [
        {"role": "user", "content": "lookup quarry"},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "a pit for stone"}]},
    ]
    second, _ = invoke(runtime, HAIKU, ANTHROPIC | {"tools": [tool], "messages": history})
    assert second["content"] == [{"type": "text", "text": "The lookup tool returned: a pit for stone"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ANTHROPIC | {"model": "claude", "messages": []}, "#: extraneous key [model] is not permitted"),
        (ANTHROPIC | {"stream": True, "messages": []}, "#: extraneous key [stream] is not permitted"),
        ({"max_tokens": 10, "messages": []}, "#: required key [anthropic_version] not found"),
        ({"anthropic_version": "bedrock-2023-05-31", "messages": []}, "#: required key [max_tokens] not found"),
    ],
)
def test_claude_bodies_are_checked_as_bedrock_checks_them(runtime: Any, body: Any, message: str) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.invoke_model(modelId=HAIKU, body=json.dumps(body))
    assert message in excinfo.value.response["Error"]["Message"]


def test_count_tokens_of_an_invoke_body_matches_usage(runtime: Any) -> None:
    body = ANTHROPIC | {"messages": [{"role": "user", "content": "count these words please"}]}
    counted = runtime.count_tokens(modelId=HAIKU, input={"invokeModel": {"body": json.dumps(body).encode()}})
    message, _ = invoke(runtime, HAIKU, body)
    assert counted["inputTokens"] == message["usage"]["input_tokens"]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def titan(runtime: Any, text: str, **options: Any) -> dict[str, Any]:
    return invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": text} | options)[0]


@pytest.mark.parametrize("dimensions", [256, 512, 1024])
def test_titan_v2_vectors_have_the_requested_size_and_unit_length(runtime: Any, dimensions: int) -> None:
    response = titan(runtime, "The quarry ships granite", dimensions=dimensions)
    assert len(response["embedding"]) == dimensions
    assert math.isclose(math.hypot(*response["embedding"]), 1.0, rel_tol=1e-6)
    assert response["inputTextTokenCount"] > 0
    assert response["embeddingsByType"]["float"] == response["embedding"]


def test_titan_vectors_are_deterministic_and_meaningful(runtime: Any) -> None:
    base = titan(runtime, "How do I reset my account password?")["embedding"]
    similar = titan(runtime, "Steps to reset a forgotten account password")["embedding"]
    unrelated = titan(runtime, "Granite blocks are cut from the quarry wall")["embedding"]
    assert titan(runtime, "How do I reset my account password?")["embedding"] == base
    assert cosine(base, similar) > cosine(base, unrelated) + 0.2


def test_titan_binary_and_unnormalised_options(runtime: Any) -> None:
    response = titan(runtime, "bits", dimensions=256, normalize=False, embeddingTypes=["binary", "float"])
    assert set(response["embeddingsByType"]["binary"]) <= {0, 1}
    assert len(response["embeddingsByType"]["binary"]) == 256
    assert math.hypot(*response["embedding"]) > 1.5
    with pytest.raises(runtime.exceptions.ValidationException):
        titan(runtime, "x", dimensions=300)


def test_titan_v1_has_1536_dimensions(runtime: Any) -> None:
    response, _ = invoke(runtime, "amazon.titan-embed-text-v1", {"inputText": "hello"})
    assert len(response["embedding"]) == 1536


def test_cohere_embeds_batches_with_types(runtime: Any) -> None:
    body = {"texts": ["alpha beta", "gamma"], "input_type": "search_document"}
    plain, _ = invoke(runtime, "cohere.embed-english-v3", body)
    assert plain["response_type"] == "embeddings_floats"
    assert [len(v) for v in plain["embeddings"]] == [1024, 1024]
    assert plain["texts"] == body["texts"]
    typed, _ = invoke(runtime, "cohere.embed-multilingual-v3", body | {"embedding_types": ["float", "int8", "ubinary"]})
    assert typed["response_type"] == "embeddings_by_type"
    assert typed["embeddings"]["float"] == plain["embeddings"]
    assert all(-128 <= v <= 127 for v in typed["embeddings"]["int8"][0])
    assert len(typed["embeddings"]["ubinary"][0]) == 1024 // 8


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"texts": ["x"] * 97, "input_type": "search_query"}, "expected maximum item count: 96"),
        ({"texts": ["x"]}, "input_type"),
        ({"input_type": "search_query"}, "required key [texts] not found"),
    ],
)
def test_cohere_bodies_are_checked(runtime: Any, body: Any, message: str) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.invoke_model(modelId="cohere.embed-english-v3", body=json.dumps(body))
    assert message in excinfo.value.response["Error"]["Message"]


def test_invoke_takes_the_anthropic_api_version_the_model_takes(runtime: Any) -> None:
    # The anthropic SDK 2.x's AnthropicBedrock puts its own API version, 2026-10-21, in the InvokeModel body; Bedrock
    # takes it for Claude 4.7 and later (docs/bedrock-models-2026.md §2.1) and then applies that version's rules.
    ask = {"max_tokens": 200, "messages": [{"role": "user", "content": "Hi"}]}
    message, _ = invoke(runtime, "us.anthropic.claude-opus-5-5", ask | {"anthropic_version": "2026-10-21"})
    assert message["content"][-1] == {"type": "text", "text": 'You said: "Hi"'}
    with pytest.raises(runtime.exceptions.ValidationException, match=r"temperature: Extra inputs are not permitted"):
        invoke(runtime, "us.anthropic.claude-opus-5-5", ask | {"anthropic_version": "2026-10-21", "temperature": 1})
    older = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    with pytest.raises(runtime.exceptions.ValidationException, match=r"invalid anthropic_version: '2026-10-21'"):
        invoke(runtime, older, ask | {"anthropic_version": "2026-10-21"})
    message, _ = invoke(runtime, older, ask | {"anthropic_version": "bedrock-2023-05-31"})
    assert message["content"] == [{"type": "text", "text": 'You said: "Hi"'}]


def test_anthropic_bedrock_sdk_with_its_default_version(emulator_url: str) -> None:
    client = anthropic.AnthropicBedrock(
        base_url=emulator_url, aws_region="us-east-1", aws_access_key="AKIDEXAMPLE", aws_secret_key="secret"
    )
    message = client.messages.create(
        model="us.anthropic.claude-opus-5-5", max_tokens=300, messages=[{"role": "user", "content": "Hello"}]
    )
    assert message.content[-1].text == 'You said: "Hello"'
