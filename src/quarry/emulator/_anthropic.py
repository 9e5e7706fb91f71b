"""InvokeModel on Claude: Anthropic's Messages body in, Anthropic's message JSON or stream events out.

The body is checked as Bedrock checks it (`anthropic_version`, no `model` or `stream`), converted to the Converse
shape so that the shared validator and responder handle it, and the Reply rendered back in Anthropic's shapes.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from typing import Any

import orjson

from quarry.emulator._api_versions import V2026_10_21, check_2026_10_21
from quarry.emulator._catalog import Resolved
from quarry.emulator._claude import check_claude_request
from quarry.emulator._conversation import Conversation
from quarry.emulator._converse import padding
from quarry.emulator._errors import ValidationException, malformed_input
from quarry.emulator._eventstream import event_frame
from quarry.emulator._responder import Block, Reply
from quarry.emulator._tokens import split_tokens
from quarry.emulator._validate import parse_converse

__all__ = [
    "anthropic_events",
    "anthropic_message",
    "anthropic_stream_frames",
    "conversation_from_messages",
    "message_id",
    "parse_anthropic",
    "to_converse",
]

ANTHROPIC_VERSION = "bedrock-2023-05-31"
_ALLOWED = {
    "anthropic_version", "anthropic_beta", "max_tokens", "messages", "system", "stop_sequences", "temperature",
    "top_p", "top_k", "tools", "tool_choice", "thinking", "metadata", "output_config", "context_management",
}  # fmt: skip
# The flags Bedrock documents for Claude; any other makes it refuse the request.
_BETAS = frozenset({
    "computer-use-2024-10-22", "computer-use-2025-01-24", "computer-use-2025-11-24", "context-1m-2025-08-07",
    "context-management-2025-06-27", "dev-full-thinking-2025-05-14", "effort-2025-11-24",
    "fine-grained-tool-streaming-2025-05-14", "interleaved-thinking-2025-05-14", "output-128k-2025-02-19",
    "token-efficient-tools-2025-02-19", "tool-examples-2025-10-29", "tool-search-tool-2025-10-19",
})  # fmt: skip
_MEDIA_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


def _cache(block: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"cachePoint": {"type": "default"}}] if block.get("cache_control") else []


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise malformed_input("#/messages/content: expected type: String or JSONArray")
    return content


def _image(source: dict[str, Any]) -> dict[str, Any]:
    if source.get("type") != "base64":
        raise ValidationException("Only base64 image sources are supported on Amazon Bedrock.")
    media_type = source.get("media_type", "")
    if media_type not in _MEDIA_FORMATS:
        raise malformed_input(f"#/source/media_type: {media_type} is not a valid enum value")
    return {"image": {"format": _MEDIA_FORMATS[media_type], "source": {"bytes": source.get("data", "")}}}


def _document(block: dict[str, Any], index: int) -> dict[str, Any]:
    source = block.get("source") or {}
    name = str(block.get("title") or f"document {index + 1}")
    if source.get("type") == "text":
        return {"document": {"format": "txt", "name": name, "source": {"text": source.get("data", "")}}}
    if source.get("type") == "base64":
        return {"document": {"format": "pdf", "name": name, "source": {"bytes": source.get("data", "")}}}
    raise ValidationException("Document sources must be base64 or text on Amazon Bedrock.")


def _result_content(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    out: list[dict[str, Any]] = []
    for item in content or []:
        if item.get("type") == "text":
            out.append({"text": item.get("text", "")})
        elif item.get("type") == "image":
            out.append(_image(item.get("source") or {}))
    return out


def _convert_block(block: Any, index: int) -> list[dict[str, Any]]:
    if not isinstance(block, dict):
        raise malformed_input("#/messages/content: expected type: JSONObject")
    kind = block.get("type")
    if kind == "text":
        converted = {"text": block.get("text", "")}
    elif kind == "image":
        converted = _image(block.get("source") or {})
    elif kind == "document":
        converted = _document(block, index)
    elif kind == "tool_use":
        converted = {"toolUse": {"toolUseId": block.get("id", ""), "name": block.get("name", ""),
                                 "input": block.get("input", {})}}  # fmt: skip
    elif kind == "tool_result":
        result = {"toolUseId": block.get("tool_use_id", ""), "content": _result_content(block.get("content"))}
        if block.get("is_error"):
            result["status"] = "error"
        converted = {"toolResult": result}
    elif kind == "thinking":
        converted = {"reasoningContent": {"reasoningText": {"text": block.get("thinking", ""),
                                                            "signature": block.get("signature", "")}}}  # fmt: skip
    elif kind == "redacted_thinking":
        converted = {"reasoningContent": {"redactedContent": block.get("data", "")}}
    else:
        raise ValidationException(
            f"messages: Input tag '{kind}' found using 'type' does not match any of the expected tags"
        )
    return [converted, *_cache(block)]


def to_converse(body: dict[str, Any]) -> dict[str, Any]:
    """The Converse request equivalent to an Anthropic Messages body (for validation and CountTokens)."""
    messages = []
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            raise malformed_input("#/messages: expected type: JSONObject")
        content = [c for i, b in enumerate(_blocks(message.get("content"))) for c in _convert_block(b, i)]
        messages.append({"role": message.get("role"), "content": content})
    converse: dict[str, Any] = {"messages": messages}
    system = body.get("system")
    if system:
        converse["system"] = [c for b in _blocks(system) for c in ({"text": b.get("text", "")}, *_cache(b))]
    inference: dict[str, Any] = {"maxTokens": body.get("max_tokens")}
    for source, target in (("temperature", "temperature"), ("top_p", "topP"), ("stop_sequences", "stopSequences")):
        if body.get(source) is not None:
            inference[target] = body[source]
    converse["inferenceConfig"] = inference
    if body.get("tools"):
        tools = [
            {"toolSpec": {"name": t.get("name"), "description": t.get("description") or "",
                          "inputSchema": {"json": t.get("input_schema")}}}
            for t in body["tools"]
        ]  # fmt: skip
        choice = body.get("tool_choice") or {"type": "auto"}
        tool_choice: dict[str, Any] = {"auto": {}}
        if choice.get("type") == "any":
            tool_choice = {"any": {}}
        elif choice.get("type") == "tool":
            tool_choice = {"tool": {"name": choice.get("name", "")}}
        converse["toolConfig"] = {"tools": tools, "toolChoice": tool_choice}
    extra = {k: body[k] for k in ("thinking", "top_k", "output_config") if body.get(k) is not None}
    if extra:
        converse["additionalModelRequestFields"] = extra
    return converse


def parse_anthropic(raw: bytes, resolved: Resolved, *, streaming: bool) -> Conversation:
    """Check an Anthropic Messages body as Bedrock does and build the Conversation."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise malformed_input("#: expected type: JSONObject, found: String") from None
    if not isinstance(body, dict):
        raise malformed_input("#: expected type: JSONObject")
    for key in sorted(body):
        if key not in _ALLOWED:
            raise malformed_input(f"#: extraneous key [{key}] is not permitted")
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in body:
            raise malformed_input(f"#: required key [{key}] not found")
    version = body["anthropic_version"]
    # Bedrock's own spelling, or an Anthropic API version the model takes (what AnthropicBedrock 2.x sends).
    if version != ANTHROPIC_VERSION and version not in resolved.model.claude.api_versions:
        raise ValidationException(f"invalid anthropic_version: {version!r}; use {ANTHROPIC_VERSION}")
    if version == V2026_10_21:
        check_2026_10_21(body)
    flags = body.get("anthropic_beta", [])
    if not isinstance(flags, list) or not all(flag in _BETAS for flag in flags):
        raise ValidationException("invalid beta flag")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise malformed_input("#/max_tokens: expected minimum: 1")
    return conversation_from_messages(body, resolved, streaming=streaming)


def conversation_from_messages(body: dict[str, Any], resolved: Resolved, *, streaming: bool) -> Conversation:
    """The checks every Messages body gets, whichever route it came by (InvokeModel or `/anthropic/v1/messages`):
    the model's rules first, in Anthropic's wording (`check_claude_request`), then the shared Converse checks."""
    claude = check_claude_request(resolved.model, body)
    return parse_converse(to_converse(body), resolved, streaming=streaming, claude=claude)


def message_id() -> str:
    return "msg_bdrk_01" + secrets.token_urlsafe(16)[:22]


def _content(block: Block) -> dict[str, Any]:
    if block.kind == "text":
        return {"type": "text", "text": block.text}
    if block.kind == "toolUse":
        return {"type": "tool_use", "id": block.tool_use_id, "name": block.name, "input": block.input}
    return {"type": "thinking", "thinking": block.text, "signature": block.signature}


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": reply.cache_write,
        "cache_read_input_tokens": reply.cache_read,
        "output_tokens": reply.output_tokens,
    }


def model_name(model_id: str) -> str:
    """Anthropic's name for a Bedrock id: `anthropic.claude-3-haiku-20240307-v1:0` → `claude-3-haiku-20240307`."""
    name = model_id.removeprefix("anthropic.")
    return name.rsplit("-v", 1)[0] if "-v" in name else name


def anthropic_message(reply: Reply, model_id: str, *, name: str | None = None) -> dict[str, Any]:
    """Anthropic's message JSON; `model` is `name` when given (the Messages route echoes the caller's model)."""
    return {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": name or model_name(model_id),
        "content": [_content(b) for b in reply.blocks],
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": _usage(reply),
    }


def anthropic_events(
    reply: Reply, model_id: str, started: float, *, name: str | None = None
) -> Iterator[dict[str, Any]]:
    """Anthropic's stream events for a Reply, in order: InvokeModelWithResponseStream wraps each in a `chunk` frame,
    the Messages route writes each as an SSE event."""
    first = time.perf_counter()
    message = anthropic_message(reply, model_id, name=name) | {
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    message["usage"] = _usage(reply) | {"output_tokens": 1}
    yield {"type": "message_start", "message": message}
    for index, block in enumerate(reply.blocks):
        if block.kind == "text":
            yield {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
            for piece in split_tokens(block.text):
                yield {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}
        elif block.kind == "reasoning":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            yield {"type": "content_block_start", "index": index, "content_block": start}
            for piece in split_tokens(block.text):
                delta = {"type": "thinking_delta", "thinking": piece}
                yield {"type": "content_block_delta", "index": index, "delta": delta}
            delta = {"type": "signature_delta", "signature": block.signature}
            yield {"type": "content_block_delta", "index": index, "delta": delta}
        else:
            tool: dict[str, Any] = {"type": "tool_use", "id": block.tool_use_id, "name": block.name, "input": {}}
            yield {"type": "content_block_start", "index": index, "content_block": tool}
            for fragment in block.input_fragments():
                delta = {"type": "input_json_delta", "partial_json": fragment}
                yield {"type": "content_block_delta", "index": index, "delta": delta}
        yield {"type": "content_block_stop", "index": index}
    stop = {"stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence}
    yield {"type": "message_delta", "delta": stop, "usage": {"output_tokens": reply.output_tokens}}
    metrics = {
        "inputTokenCount": reply.input_tokens,
        "outputTokenCount": reply.output_tokens,
        "invocationLatency": int((time.perf_counter() - started) * 1000),
        "firstByteLatency": int((first - started) * 1000),
    }
    yield {"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics}


def anthropic_stream_frames(
    reply: Reply, model_id: str, started: float, extra: dict[str, Any] | None = None
) -> Iterator[bytes]:
    """InvokeModelWithResponseStream's `chunk` frames, each carrying one Anthropic stream event; `extra` fields
    (a guardrail's action and trace) go in the last, beside `amazon-bedrock-invocationMetrics`."""
    for index, event in enumerate(anthropic_events(reply, model_id, started)):
        if extra and event["type"] == "message_stop":
            event = {**event, **extra}
        chunk = {"bytes": base64.b64encode(orjson.dumps(event)).decode(), "p": padding(index)}
        yield event_frame("chunk", orjson.dumps(chunk))
