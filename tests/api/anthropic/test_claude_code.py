"""What Claude Code sends, sent as it sends it: `?beta=true`, its beta flags (some of which Bedrock refuses),
system blocks with cache_control, tools with JSON-schema dialect keys, thinking, metadata, streaming; then the
tool result sent back with the signed thinking block, and the cached prefix read on the second turn."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import KEY

CLAUDE_CODE_HEADERS = {
    "x-api-key": KEY,
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14,"
    "context-management-2025-06-27,prompt-caching-scope-2026-01-05",
    "anthropic-dangerous-direct-browser-access": "true",
    "x-app": "cli",
    "user-agent": "claude-cli/2.1.0 (external, cli)",
}
SCHEMA = "http://json-schema.org/draft-07/schema#"
TOOLS: list[dict[str, Any]] = [
    {
        "name": "Bash",
        "description": "Executes a given bash command in a persistent shell session.",
        "input_schema": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to execute"},
                "timeout": {"type": "number", "description": "Optional timeout in milliseconds"},
            },
            "required": ["command"],
            "additionalProperties": False,
            "$schema": SCHEMA,
        },
    },
    {
        "name": "Read",
        "description": "Reads a file from the local filesystem.",
        "input_schema": {
            "type": "object",
            "properties": {"file_path": {"type": "string"}},
            "required": ["file_path"],
            "additionalProperties": False,
            "$schema": SCHEMA,
        },
    },
]
SYSTEM: list[dict[str, Any]] = [
    {
        "type": "text",
        "text": "You are Claude Code, Anthropic's official CLI for Claude.",
        "cache_control": {"type": "ephemeral"},
    },
    {
        "type": "text",
        "text": "You are an interactive CLI tool that helps users with software engineering tasks. " * 40,
        "cache_control": {"type": "ephemeral"},
    },
]


def _request(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5-20250929",
        "messages": messages,
        "temperature": 1,
        "system": SYSTEM,
        "tools": TOOLS,
        "metadata": {"user_id": "user_abc_account__session_1234"},
        "max_tokens": 32000,
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "stream": True,
    }


def _stream(
    gateway: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """The content blocks assembled from the SSE events, as Claude Code assembles them, the final usage and the model
    message_start names."""
    blocks: list[dict[str, Any]] = []
    usage: dict[str, Any] = {}
    partial: dict[int, str] = {}
    model = ""
    url = f"{gateway}/v1/messages?beta=true"
    with httpx.stream("POST", url, headers=headers or CLAUDE_CODE_HEADERS, json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if event["type"] == "message_start":
                usage.update(event["message"]["usage"])
                model = event["message"]["model"]
            elif event["type"] == "content_block_start":
                blocks.append(dict(event["content_block"]))
            elif event["type"] == "content_block_delta":
                block, delta = blocks[event["index"]], event["delta"]
                if delta["type"] == "text_delta":
                    block["text"] += delta["text"]
                elif delta["type"] == "thinking_delta":
                    block["thinking"] += delta["thinking"]
                elif delta["type"] == "signature_delta":
                    block["signature"] += delta["signature"]
                elif delta["type"] == "input_json_delta":
                    partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
            elif event["type"] == "content_block_stop" and event["index"] in partial:
                blocks[event["index"]]["input"] = json.loads(partial.pop(event["index"]))
            elif event["type"] == "message_delta":
                usage.update({k: v for k, v in event["usage"].items() if v is not None})
                usage["stop_reason"] = event["delta"]["stop_reason"]
    return blocks, usage, model


def test_claude_code_round_trip(gateway: str) -> None:
    question: dict[str, Any] = {
        "role": "user",
        "content": [
            {"type": "text", "text": "<system-reminder>This is a reminder.</system-reminder>"},
            {"type": "text", "text": "Use Bash to list the files here", "cache_control": {"type": "ephemeral"}},
        ],
    }
    blocks, usage, _ = _stream(gateway, _request([question]))
    assert [b["type"] for b in blocks] == ["thinking", "text", "tool_use"]
    thinking, call = blocks[0], blocks[-1]
    assert thinking["signature"]
    assert call["name"] == "Bash"
    assert isinstance(call["input"]["command"], str)
    assert usage["stop_reason"] == "tool_use"
    assert usage["cache_creation_input_tokens"] > 0  # the system prompt and tools were written to the cache

    result = {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": call["id"],
                "content": "README.md\nsrc\ntests",
                "cache_control": {"type": "ephemeral"},
            }
        ],
    }
    blocks, usage, _ = _stream(gateway, _request([question, {"role": "assistant", "content": blocks}, result]))
    assert blocks[0]["type"] == "thinking"
    answer = "".join(b["text"] for b in blocks if b["type"] == "text")
    assert "README.md" in answer
    assert usage["stop_reason"] == "end_turn"
    assert usage["cache_read_input_tokens"] > 0  # the second turn reads the cached prefix


def test_claude_code_counts_tokens(gateway: str) -> None:
    body = {k: v for k, v in _request([{"role": "user", "content": "hi"}]).items() if k not in ("stream", "max_tokens")}
    response = httpx.post(f"{gateway}/v1/messages/count_tokens?beta=true", headers=CLAUDE_CODE_HEADERS, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["input_tokens"] > 400  # the long system prompt and the tools are counted


# Claude Code 2.1.197 as captured against a recording server: its default model, its flags (some Anthropic's alone),
# the attribution block first in `system`, adaptive thinking at an effort, and a system message after the user's turn.
CLAUDE_CODE_2_1_197 = CLAUDE_CODE_HEADERS | {
    "anthropic-beta": "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,"
    "thinking-token-count-2026-05-13,context-management-2025-06-27,prompt-caching-scope-2026-01-05,"
    "mid-conversation-system-2026-04-07,effort-2025-11-24",
    "user-agent": "claude-cli/2.1.197 (external, sdk-cli)",
}


@pytest.mark.parametrize("model", ["claude-opus-4-8", "claude-sonnet-4-5-20250929"])
def test_claude_code_2_1_197_round_trip(gateway: str, model: str) -> None:
    system = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.fa0; cc_entrypoint=sdk-cli;"}]
    agents = {"role": "system", "content": "Available agent types for the Agent tool: Explore, Plan."}
    question = {"role": "user", "content": [{"type": "text", "text": "Use Bash to list the files here"}]}

    def request(messages: list[dict[str, Any]]) -> dict[str, Any]:
        thinking = {"type": "adaptive"} if model == "claude-opus-4-8" else {"type": "enabled", "budget_tokens": 4000}
        body = _request(messages) | {"model": model, "system": system + SYSTEM, "max_tokens": 64000}
        body |= {"thinking": thinking, "metadata": {"user_id": '{"device_id":"d","session_id":"s"}'}}
        body.pop("temperature")
        return body | ({"output_config": {"effort": "high"}} if model == "claude-opus-4-8" else {})

    blocks, usage, started = _stream(gateway, request([question, agents]), CLAUDE_CODE_2_1_197)
    assert started == model  # Claude Code keeps its earlier thinking only when the answer names its model
    assert blocks[0]["type"] == "thinking"
    assert blocks[0]["signature"]
    call = blocks[-1]
    assert call["type"] == "tool_use"
    assert call["name"] == "Bash"
    assert usage["stop_reason"] == "tool_use"
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "README.md"}]}
    conversation = [question, agents, {"role": "assistant", "content": blocks}, result]
    blocks, usage, started = _stream(gateway, request(conversation), CLAUDE_CODE_2_1_197)
    assert started == model
    assert blocks[0]["type"] == "thinking"
    assert "README.md" in "".join(b["text"] for b in blocks if b["type"] == "text")
    assert usage["stop_reason"] == "end_turn"
