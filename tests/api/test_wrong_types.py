"""Nothing a caller sends may crash the server: each field of a valid body, replaced by a value of every wrong JSON
type, is a 4xx in the caller's own envelope, never a 5xx. The valid bodies hold every field the dialects read, so
the walk reaches the loosely typed parts (content blocks, tools, thinking, output settings) as well as the schemas."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import HAIKU, KEY, SONNET_45, WEATHER_TOOL

NOVA = "amazon.nova-lite-v1:0"
OPUS_46 = "us.anthropic.claude-opus-4-6-v1"
TITAN = "amazon.titan-embed-text-v2:0"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WRONG: list[Any] = [7, "abc", [1], {"x": 1}, None, True, 2**70]  # the last: no 64-bit integer holds it
Path = tuple[str | int, ...]

_CHAT: dict[str, Any] = {
    "model": HAIKU,
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"P"}'}}
            ],
            "thinking_blocks": [
                {"type": "redacted_thinking", "data": "abc"},
                {"type": "thinking", "thinking": "Hm.", "signature": "c2ln"},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny."},
        {"role": "user", "content": "Thanks.", "cache_control": {"type": "ephemeral"}},
    ],
    "max_tokens": 50,
    "temperature": 0.5,
    "top_p": 0.9,
    "top_k": 5,
    "stop": ["STOP"],
    "stream": False,
    "stream_options": {"include_usage": True},
    "tools": [WEATHER_TOOL],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": True,
    "user": "u1",
    "seed": 1,
    "n": 1,
    "additional_model_request_fields": {"top_k": 5},
    "extra_body": {"top_k": 5},
}
_CHAT_JSON: dict[str, Any] = {
    "model": NOVA,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "A city?"}]}],
    "max_completion_tokens": 50,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "city", "description": "A city.", "schema": {"type": "object"}, "strict": True},
    },
    "reasoning_effort": "low",
}
_CHAT_THINKING: dict[str, Any] = {
    "model": SONNET_45,
    "max_tokens": 2048,
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "messages": [{"role": "user", "content": "Think."}],
}
_CHAT_PASSTHROUGH: dict[str, Any] = {
    "model": SONNET_45,
    "messages": [{"role": "user", "content": "Think."}],
    "additional_model_request_fields": {"thinking": {"type": "disabled"}},
    "extra_body": {"thinking": {"type": "disabled"}},
}
_CHAT_IMAGE: dict[str, Any] = {
    "model": NOVA,
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
            ],
        }
    ],
}
_KB_CHAT: dict[str, Any] = {
    "model": "kb:wrongtypes",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "How much annual leave?"}]}],
}
_EMBED: dict[str, Any] = {"model": TITAN, "input": ["leave", "days"], "encoding_format": "float", "dimensions": 256}
_EMBED_TOKENS: dict[str, Any] = {"model": "text-embedding-3-small", "input": [[9906, 1917], [25, 23]]}
_COMPLETION: dict[str, Any] = {
    "model": HAIKU,
    "prompt": ["Hello", "again"],
    "max_tokens": 50,
    "temperature": 0.5,
    "stop": ["END"],
    "n": 1,
    "best_of": 1,
    "echo": False,
    "user": "u1",
    "seed": 7,
}
_KB_COMPLETION: dict[str, Any] = {"model": "kb:wrongtypes", "prompt": [9906, 1917], "stream": False}

_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Weather.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    "cache_control": {"type": "ephemeral"},
}
_HISTORY: list[dict[str, Any]] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Weather in Paris?", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        ],
    },
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "P"}}],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "tu_1", "content": [{"type": "text", "text": "Sunny."}]},
            {"type": "text", "text": "Thanks."},
        ],
    },
]


def _messages(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 100,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": _HISTORY,
        "tools": [_TOOL],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": False},
        "stop_sequences": ["STOP"],
        "temperature": 0.5,
        "top_k": 5,
        "metadata": {"user_id": "u1"},
        "stream": False,
    }


def _thinking(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 2048,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hello."},
            {"role": "assistant", "content": "Hi."},
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "title": "Leave",
                        "source": {"type": "text", "media_type": "text/plain", "data": "25 days."},
                    },
                    {"type": "text", "text": "How much leave?"},
                ],
            },
        ],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "output_config": {"effort": "high"},
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "tools": [_TOOL],
    }


_NOT_COUNTED = 400  # Bedrock counts Claude's tokens only; the translation runs (and is walked) before it refuses
# (path, base body, its status): each base is answered as it is, so what a mutation changes is all that is wrong.
CASES: dict[str, tuple[str, dict[str, Any], int]] = {
    "chat": ("/v1/chat/completions", _CHAT, 200),
    "chat json": ("/v1/chat/completions", _CHAT_JSON, 200),
    "chat thinking": ("/v1/chat/completions", _CHAT_THINKING, 200),
    "chat image": ("/v1/chat/completions", _CHAT_IMAGE, 200),
    "chat passthrough": ("/v1/chat/completions", _CHAT_PASSTHROUGH, 200),
    "kb chat": ("/v1/chat/completions", _KB_CHAT, 200),
    "embeddings": ("/v1/embeddings", _EMBED, 200),
    "embeddings tokens": ("/v1/embeddings", _EMBED_TOKENS, 200),
    "completions": ("/v1/completions", _COMPLETION, 200),
    "kb completions": ("/v1/completions", _KB_COMPLETION, 200),
    "messages claude": ("/v1/messages", _messages(SONNET_45), 200),
    "messages converse": ("/v1/messages", _messages(NOVA), 200),
    # Opus 4.6: the newest Claude on InvokeModel, taking a budget and an effort (Sonnet 4.5 has no effort).
    "messages claude thinking": ("/v1/messages", _thinking(OPUS_46), 200),
    "messages converse thinking": ("/v1/messages", _thinking(NOVA) | {"tool_choice": {"type": "auto"}}, 200),
    "count claude": ("/v1/messages/count_tokens", _messages(SONNET_45), 200),
    "count converse": ("/v1/messages/count_tokens", _messages(NOVA), _NOT_COUNTED),
    "count claude thinking": ("/v1/messages/count_tokens", _thinking(OPUS_46), 200),
    "count converse thinking": (
        "/v1/messages/count_tokens",
        _thinking(NOVA) | {"tool_choice": {"type": "auto"}},
        _NOT_COUNTED,
    ),
}


_OPAQUE = frozenset({"parameters", "input_schema", "schema", "input", "metadata"})


def _paths(value: Any, path: Path = ()) -> Iterator[Path]:
    """Every field and list entry of a body (the body itself excluded), but not inside values Quarry passes on
    without reading (JSON schemas, tool inputs, metadata, extra model fields): those are Bedrock's to judge."""
    if path:
        yield path
    if path and path[-1] in _OPAQUE:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*path, i))


def _replaced(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    node: Any = changed
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return changed


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """A request as the dialect's own SDK sends it (the error envelope follows the caller's dialect)."""
    anthropic = {"x-api-key": KEY, "anthropic-version": "2023-06-01"} if path.startswith("/v1/messages") else {}
    return client.post(path, json=body, headers=anthropic)


def _envelope_ok(path: str, response: httpx.Response) -> bool:
    if response.status_code < 400:
        return True  # a value of another type that the API takes (e.g. `stream: true`)
    body = response.json()
    if path.startswith("/v1/messages"):
        return body.get("type") == "error" and isinstance(body.get("error", {}).get("message"), str)
    error = body.get("error")
    return "type" not in body and isinstance(error, dict) and isinstance(error.get("message"), str) and "param" in error


@pytest.fixture(scope="module")
def client(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as made:
        made.post("/v1/knowledge-bases", json={"name": "wrongtypes"})  # 201, or 409 when an earlier module made it
        uploaded = made.post(
            "/v1/knowledge-bases/wrongtypes/documents",
            files=[("file", ("leave.md", b"# Leave\n\nEvery employee gets 25 days of annual leave.\n"))],
        )
        assert uploaded.status_code == 200, uploaded.text
        yield made


@pytest.mark.parametrize("case", CASES)
def test_no_field_of_the_wrong_type_is_a_server_error(client: httpx.Client, case: str) -> None:
    path, body, status = CASES[case]
    valid = _post(client, path, body)
    assert valid.status_code == status, valid.text
    failures: list[str] = []
    for where in _paths(body):
        for value in WRONG:
            try:
                response = _post(client, path, _replaced(body, where, value))
            except httpx.TransportError as exc:  # the server dropped the connection: a crash by another name
                failures.append(f"{'.'.join(map(str, where))} = {value!r}: {exc!r}")
                continue
            if response.status_code >= 500 or not _envelope_ok(path, response):
                failures.append(
                    f"{'.'.join(map(str, where))} = {value!r}: {response.status_code} {response.text[:200]}"
                )
    assert not failures, "\n".join(failures)


# The review's reproducers, with the parameter each refusal names.
@pytest.mark.parametrize(
    ("case", "where", "value", "param"),
    [
        ("messages converse thinking", ("thinking", "budget_tokens"), "abc", "thinking.budget_tokens"),
        ("count claude thinking", ("thinking", "budget_tokens"), "abc", "thinking.budget_tokens"),
        ("messages converse", ("messages", 2, "content", 0, "content"), 7, "messages.2.content.0.content"),
        ("messages claude thinking", ("output_config",), "high", "output_config"),
        ("kb chat", ("messages", 0, "content", 0, "text"), 7, "messages[0].content[0].text"),
        ("messages converse", ("tools", 0, "input_schema"), "abc", "tools.0.input_schema"),
        ("messages claude", ("messages", 0, "content", 1, "source", "data"), 7, "messages.0.content.1.source.data"),
        ("messages claude", ("metadata",), "u1", "metadata"),
        ("messages claude", ("stop_sequences",), "STOP", "stop_sequences"),
        ("messages converse", ("system",), 7, "system"),
    ],
)
def test_a_wrong_type_names_the_parameter(client: httpx.Client, case: str, where: Path, value: Any, param: str) -> None:
    path, body, _ = CASES[case]
    response = _post(client, path, _replaced(body, where, value))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    if path.startswith("/v1/messages"):
        assert param in error["message"]
    else:
        assert error["param"] == param
