"""Messages ⇄ Converse for models other than Claude (Nova, Llama, Mistral, …): the request translated, the
answer and its stream rendered in Anthropic's shapes, so callers cannot tell the difference."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from quarry.api._history import CACHE_POINT, ConverseHistory, fit_to_model, normalise, reasoning_fields, top_k_fields
from quarry.api.anthropic._native import PING
from quarry.api.anthropic._schemas import CountTokensRequest, MessagesRequest
from quarry.bedrock import ResolvedModel
from quarry.errors import InvalidRequest

__all__ = ["StreamWriter", "converse_request", "message_id", "to_message"]

ImageLoader = Callable[[str], Awaitable[tuple[str, bytes]]]
_IMAGE_TYPES = {"image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
_DOCUMENT_NAME = re.compile(r"[^A-Za-z0-9 ()\[\]-]+")
_STOP_REASONS = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "model_context_window_exceeded",
}
_NO_TOOLS_NOTE = "Answer directly in text. Do not call any tool."


def message_id() -> str:
    return "msg_" + secrets.token_hex(12)


class _Blocks:
    """Anthropic content blocks → Converse blocks; images behind URLs are fetched once all blocks are read."""

    def __init__(self, load_image: ImageLoader) -> None:
        self._load = load_image
        self._pending: list[tuple[dict[str, Any], Awaitable[tuple[str, bytes]]]] = []
        self._documents = 0

    async def resolve(self) -> None:
        loaded = await asyncio.gather(*(load for _, load in self._pending))
        for (image, _), (fmt, data) in zip(self._pending, loaded, strict=True):
            image.update(format=fmt, source={"bytes": base64.b64encode(data).decode()})
        self._pending.clear()

    def content(self, content: str | list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
        if isinstance(content, str):
            return [{"text": content}] if content.strip() else []
        blocks: list[dict[str, Any]] = []
        for i, block in enumerate(content):
            converted = self.block(block, f"{where}.{i}")
            if converted is not None:
                blocks.append(converted)
            if block.get("cache_control"):
                blocks.append(CACHE_POINT)
        return blocks

    def block(self, block: Any, where: str) -> dict[str, Any] | None:
        if not isinstance(block, dict):
            raise InvalidRequest(f"{where}: a content block must be an object.", param=where)
        kind = block.get("type")
        if kind == "text":
            text = _required(block, "text", str, where)
            return {"text": text} if text.strip() else None
        if kind == "image":
            return {"image": self._image(block.get("source"), where)}
        if kind == "document":
            return {"document": self._document(block, where)}
        if kind == "tool_use":
            use = {"toolUseId": _required(block, "id", str, where), "name": _required(block, "name", str, where)}
            return {"toolUse": use | {"input": _required(block, "input", dict, where)}}
        if kind == "tool_result":
            return {"toolResult": self._tool_result(block, where)}
        if kind == "thinking":
            text = {"text": _required(block, "thinking", str, where), "signature": block.get("signature", "")}
            return {"reasoningContent": {"reasoningText": text}}
        if kind == "redacted_thinking":
            return {"reasoningContent": {"redactedContent": _required(block, "data", str, where)}}
        raise InvalidRequest(f"{where}: content blocks of type `{kind}` cannot be sent to this model.", param=where)

    def _image(self, source: Any, where: str) -> dict[str, Any]:
        source = source if isinstance(source, dict) else {}
        if source.get("type") == "url" and isinstance(source.get("url"), str):
            image: dict[str, Any] = {}
            self._pending.append((image, self._load(source["url"])))
            return image
        if source.get("type") != "base64" or source.get("media_type") not in _IMAGE_TYPES:
            raise InvalidRequest(
                f"{where}.source: images must be base64 (image/jpeg, image/png, image/gif or image/webp) or a URL.",
                param=f"{where}.source",
            )
        return {"format": _IMAGE_TYPES[source["media_type"]], "source": {"bytes": source.get("data", "")}}

    def _document(self, block: dict[str, Any], where: str) -> dict[str, Any]:
        self._documents += 1
        title = _DOCUMENT_NAME.sub(" ", str(block.get("title") or "")).strip()
        name = " ".join(title.split()) or f"document {self._documents}"
        source: dict[str, Any] = block["source"] if isinstance(block.get("source"), dict) else {}
        if source.get("type") == "base64" and source.get("media_type") == "application/pdf":
            return {"format": "pdf", "name": name, "source": {"bytes": source.get("data", "")}}
        if source.get("type") == "text":
            text = str(source.get("data", "")).encode()
            return {"format": "txt", "name": name, "source": {"bytes": base64.b64encode(text).decode()}}
        raise InvalidRequest(
            f"{where}.source: documents must be base64 PDF or plain text for this model.", param=f"{where}.source"
        )

    def _tool_result(self, block: dict[str, Any], where: str) -> dict[str, Any]:
        content = block.get("content")
        if content is None or isinstance(content, str):
            parts = [{"text": content}] if content else []
        else:
            parts = [b for i, item in enumerate(content) if (b := self.block(item, f"{where}.content.{i}"))]
        result: dict[str, Any] = {
            "toolUseId": _required(block, "tool_use_id", str, where),
            "content": [p for p in parts if "text" in p or "image" in p or "document" in p] or [{"text": "(empty)"}],
        }
        if block.get("is_error"):
            result["status"] = "error"
        return result


def _required(block: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = block.get(key)
    if not isinstance(value, kind):
        raise InvalidRequest(f"{where}.{key}: Field required ({kind.__name__}).", param=f"{where}.{key}")
    return value


async def _history(request: CountTokensRequest, load_image: ImageLoader) -> ConverseHistory:
    blocks = _Blocks(load_image)
    history = ConverseHistory()
    if request.system:
        system = blocks.content(request.system, "system")
        history.system = [b for b in system if "text" in b or "cachePoint" in b]
    turns = [(m.role, blocks.content(m.content, f"messages.{i}.content")) for i, m in enumerate(request.messages)]
    await blocks.resolve()
    history.messages = normalise([(role, content) for role, content in turns if content])
    if not history.messages:
        raise InvalidRequest("messages: at least one message must have content.", param="messages")
    return history


def _tool_config(request: CountTokensRequest, history: ConverseHistory, body: dict[str, Any]) -> None:
    tools = []
    for i, tool in enumerate(request.tools or ()):
        if tool.get("type") not in (None, "custom"):
            raise InvalidRequest(f"tools.{i}: `{tool['type']}` tools are available on Claude models only.")
        spec = {"name": _required(tool, "name", str, f"tools.{i}"), "inputSchema": {"json": tool.get("input_schema")}}
        if tool.get("description"):
            spec["description"] = tool["description"]
        tools.append({"toolSpec": spec})
        if tool.get("cache_control"):
            tools.append(CACHE_POINT)
    choice = request.tool_choice
    if choice is not None and choice.type == "none":
        if not history.uses_tools():
            return
        body.setdefault("system", []).append({"text": _NO_TOOLS_NOTE})
        choice = None
    if not tools and history.uses_tools():
        tools, choice = history.tool_specs(), None
    if not tools:
        return
    config: dict[str, Any] = {"tools": tools}
    if choice is not None and choice.type == "any":
        config["toolChoice"] = {"any": {}}
    elif choice is not None and choice.type == "tool":
        if not choice.name:
            raise InvalidRequest("tool_choice.name is required for tool choice `tool`.", param="tool_choice.name")
        config["toolChoice"] = {"tool": {"name": choice.name}}
    body["toolConfig"] = config


def _reasoning(request: CountTokensRequest, model: ResolvedModel, fields: dict[str, Any]) -> None:
    thinking = request.thinking or {}
    if thinking.get("type") != "enabled" or not model.facts.has("thinking"):
        return  # models that cannot think answer without it, as Claude does with thinking off
    budget = int(thinking.get("budget_tokens") or 0)
    reasoning_fields(model, "low" if budget <= 2048 else "medium" if budget <= 8192 else "high", fields)


async def converse_request(
    request: CountTokensRequest, model: ResolvedModel, load_image: ImageLoader
) -> dict[str, Any]:
    """The Converse body for a Messages (or count_tokens) request."""
    history = await _history(request, load_image)
    body: dict[str, Any] = {"messages": history.messages, "system": history.system}
    fields: dict[str, Any] = {}
    if isinstance(request, MessagesRequest):
        config: dict[str, Any] = {"maxTokens": request.max_tokens}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.top_p is not None and not ("temperature" in config and model.facts.temperature_excludes_top_p):
            config["topP"] = request.top_p
        if request.stop_sequences:
            config["stopSequences"] = request.stop_sequences
        body["inferenceConfig"] = config
        if request.top_k is not None:
            top_k_fields(model, request.top_k, fields)
    _tool_config(request, history, body)
    _reasoning(request, model, fields)
    if fields:
        body["additionalModelRequestFields"] = fields
    fit_to_model(model, body)
    if not body["system"]:
        del body["system"]
    return body


def _content_block(block: dict[str, Any]) -> dict[str, Any] | None:
    if "text" in block:
        return {"type": "text", "text": block["text"]}
    if "toolUse" in block:
        use = block["toolUse"]
        return {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": use.get("input", {})}
    if "reasoningContent" in block:
        reasoning = block["reasoningContent"]
        if "redactedContent" in reasoning:
            return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
        text = reasoning.get("reasoningText", {})
        return {"type": "thinking", "thinking": text.get("text", ""), "signature": text.get("signature", "")}
    return None


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    return {
        "input_tokens": usage.get("inputTokens", 0),
        "cache_creation_input_tokens": usage.get("cacheWriteInputTokens", 0),
        "cache_read_input_tokens": usage.get("cacheReadInputTokens", 0),
        "output_tokens": usage.get("outputTokens", 0),
    }


def _stop(reason: str | None, request: MessagesRequest, extra: dict[str, Any] | None) -> tuple[str, str | None]:
    stop_reason = _STOP_REASONS.get(reason or "end_turn", "end_turn")
    if stop_reason != "stop_sequence":
        return stop_reason, None
    sequence = (extra or {}).get("stop_sequence")
    if sequence is None and request.stop_sequences and len(request.stop_sequences) == 1:
        sequence = request.stop_sequences[0]
    return stop_reason, sequence


def to_message(answer: dict[str, Any], request: MessagesRequest) -> dict[str, Any]:
    """The Anthropic message for a Converse answer."""
    content = answer.get("output", {}).get("message", {}).get("content", [])
    reason, sequence = _stop(answer.get("stopReason"), request, answer.get("additionalModelResponseFields"))
    return {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [b for block in content if (b := _content_block(block))],
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": _usage(answer.get("usage", {})),
    }


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class StreamWriter:
    """ConverseStream events → Anthropic's SSE sequence: message_start, ping, content_block_start / _delta /
    _stop for each block, message_delta with the stop reason and usage, message_stop.

    Converse reports usage after the stop reason, so message_delta waits for the metadata event."""

    def __init__(self, request: MessagesRequest) -> None:
        self._request = request
        self._open: dict[int, str] = {}  # Converse block index → the Anthropic block type being streamed
        self._indexes: dict[int, int] = {}  # Converse block index → Anthropic block index
        self._stop: tuple[str, str | None] | None = None
        self._finished = False

    def event(self, event: dict[str, Any]) -> list[bytes]:
        if "contentBlockDelta" in event:
            return self._delta(event["contentBlockDelta"])
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = start.get("start", {}).get("toolUse")
            if use is None:
                return []
            block = {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": {}}
            return self._begin(start.get("contentBlockIndex", 0), block)
        if "contentBlockStop" in event:
            return self._end(event["contentBlockStop"].get("contentBlockIndex", 0))
        if "messageStart" in event:
            message: dict[str, Any] = {
                "id": message_id(), "type": "message", "role": "assistant", "model": self._request.model,
                "content": [], "stop_reason": None, "stop_sequence": None, "usage": _usage({}),
            }  # fmt: skip
            return [_sse("message_start", {"type": "message_start", "message": message}), PING]
        if "messageStop" in event:
            stop = event["messageStop"]
            self._stop = _stop(stop.get("stopReason"), self._request, stop.get("additionalModelResponseFields"))
            return [line for index in list(self._open) for line in self._end(index)]
        if "metadata" in event:
            return self._finish(event["metadata"].get("usage", {}))
        return []

    def finish(self) -> bytes:
        """What is still owed when the upstream stream ends (nothing, when metadata came)."""
        return b"" if self._finished else b"".join(self._finish({}))

    def _begin(self, index: int, block: dict[str, Any]) -> list[bytes]:
        position = self._indexes[index] = len(self._indexes)
        self._open[index] = block["type"]
        return [_sse("content_block_start", {"type": "content_block_start", "index": position, "content_block": block})]

    def _end(self, index: int) -> list[bytes]:
        if self._open.pop(index, None) is None:
            return []
        return [_sse("content_block_stop", {"type": "content_block_stop", "index": self._indexes[index]})]

    def _delta(self, event: dict[str, Any]) -> list[bytes]:
        index, delta = event.get("contentBlockIndex", 0), event.get("delta", {})
        start: dict[str, Any] | None = None  # the block to open when this is its first delta
        if "text" in delta:
            start, anthropic = {"type": "text", "text": ""}, {"type": "text_delta", "text": delta["text"]}
        elif "toolUse" in delta:
            anthropic = {"type": "input_json_delta", "partial_json": delta["toolUse"].get("input", "")}
        elif "reasoningContent" in delta:
            reasoning = delta["reasoningContent"]
            if "redactedContent" in reasoning:
                block = {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
                return self._begin(index, block) + self._end(index)
            start = {"type": "thinking", "thinking": "", "signature": ""}
            if "signature" in reasoning:
                anthropic = {"type": "signature_delta", "signature": reasoning["signature"]}
            else:
                anthropic = {"type": "thinking_delta", "thinking": reasoning.get("text", "")}
        else:
            return []
        opened = self._begin(index, start) if start is not None and index not in self._open else []
        body = {"type": "content_block_delta", "index": self._indexes.get(index, 0), "delta": anthropic}
        return [*opened, _sse("content_block_delta", body)]

    def _finish(self, usage: dict[str, Any]) -> list[bytes]:
        if self._finished:
            return []
        self._finished = True
        reason, sequence = self._stop or ("end_turn", None)
        delta = {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence},
                 "usage": _usage(usage)}  # fmt: skip
        return [
            *(line for index in list(self._open) for line in self._end(index)),
            _sse("message_delta", delta),
            _sse("message_stop", {"type": "message_stop"}),
        ]
