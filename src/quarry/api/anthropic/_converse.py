"""Messages ⇄ Converse for models other than Claude (Nova, Llama, Mistral, …): the request translated, the
answer and its stream rendered in Anthropic's shapes, so callers cannot tell the difference."""

from __future__ import annotations

import secrets
from typing import Any

from quarry.api._core import (
    ConverseHistory,
    ImageLoader,
    Media,
    Usage,
    anthropic_tier_name,
    cache_point,
    converse_thinking,
    fit_to_model,
    inference_config,
    level_for_budget,
    normalise,
    redacted_reasoning,
    signed_reasoning,
    stop_reason,
    thinking_block,
    thinking_on,
    tool_config,
    tool_spec,
    top_k_fields,
)
from quarry.api._sse import named_event
from quarry.api.anthropic._native import PING
from quarry.api.anthropic._schemas import CountTokensRequest, MessagesRequest
from quarry.bedrock import (
    ContentBlock,
    ContentBlockDeltaEvent,
    ConverseRequest,
    ConverseResponse,
    ConverseStreamEvent,
    Document,
    ImageBlock,
    MessagesBlock,
    MessagesDelta,
    MessagesResponse,
    MessagesStopReason,
    ResolvedModel,
    Role,
    SystemContentBlock,
    TokenUsage,
    Tool,
    ToolResultBlock,
    ToolResultContentBlock,
)
from quarry.errors import InvalidRequest

__all__ = ["StreamWriter", "converse_request", "message_id", "to_message"]

Stop = tuple[MessagesStopReason, str | None]


def message_id() -> str:
    return "msg_" + secrets.token_hex(12)


class _Blocks:
    """Anthropic content blocks → Converse blocks; images behind URLs are fetched once all blocks are read."""

    def __init__(self, load_image: ImageLoader) -> None:
        self.media = Media(load_image)

    def content(self, content: str | list[Document], where: str) -> list[ContentBlock]:
        if isinstance(content, str):
            return [{"text": content}] if content.strip() else []
        blocks: list[ContentBlock] = []
        for i, block in enumerate(content):
            converted = self.block(block, f"{where}.{i}")
            if converted is not None:
                blocks.append(converted)
            if block.get("cache_control"):
                blocks.append({"cachePoint": cache_point()})
        return blocks

    def block(self, block: object, where: str) -> ContentBlock | None:
        if not isinstance(block, dict):
            raise InvalidRequest(f"{where}: a content block must be an object.", param=where)
        kind = block.get("type")
        if kind == "text":
            text = _required(block, "text", str, where)
            return {"text": text} if text.strip() else None
        if kind == "image":
            return {"image": self._image(block.get("source"), where)}
        if kind == "document":
            source = block["source"] if isinstance(block.get("source"), dict) else {}
            return {"document": self.media.document(block.get("title"), source, where)}
        if kind == "tool_use":
            use_id, name = _required(block, "id", str, where), _required(block, "name", str, where)
            return {"toolUse": {"toolUseId": use_id, "name": name, "input": _required(block, "input", dict, where)}}
        if kind == "tool_result":
            return {"toolResult": self._tool_result(block, where)}
        if kind == "thinking":
            return signed_reasoning(_required(block, "thinking", str, where), block.get("signature", ""))
        if kind == "redacted_thinking":
            return redacted_reasoning(_required(block, "data", str, where))
        raise InvalidRequest(f"{where}: content blocks of type `{kind}` cannot be sent to this model.", param=where)

    def _image(self, source: object, where: str) -> ImageBlock:
        source = source if isinstance(source, dict) else {}
        if source.get("type") == "url" and isinstance(source.get("url"), str):
            return self.media.image_url(source["url"])
        media_type = source.get("media_type") if source.get("type") == "base64" else None
        return self.media.image_data(media_type, source.get("data", ""), where)

    def _tool_result(self, block: Document, where: str) -> ToolResultBlock:
        content = block.get("content")
        if content is None or isinstance(content, str):
            parts: list[ContentBlock] = [{"text": content}] if content else []
        else:
            parts = [b for i, item in enumerate(content) if (b := self.block(item, f"{where}.content.{i}"))]
        kept = [part for p in parts if (part := _result_part(p)) is not None]
        result: ToolResultBlock = {
            "toolUseId": _required(block, "tool_use_id", str, where),
            "content": kept or [{"text": "(empty)"}],
        }
        if block.get("is_error"):
            result["status"] = "error"
        return result


def _result_part(block: ContentBlock) -> ToolResultContentBlock | None:
    """What a Converse tool result can hold: text, images and documents (no reasoning, no cache points)."""
    if "text" in block:
        return {"text": block["text"]}
    if "image" in block:
        return {"image": block["image"]}
    if "document" in block:
        return {"document": block["document"]}
    return None


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
        history.system = [_system_block(b) for b in system if "text" in b or "cachePoint" in b]
    # Mid-conversation system messages were folded into the user turns before (the routes' carried form).
    turns: list[tuple[Role, list[ContentBlock]]] = [
        (m.role, blocks.content(m.content, f"messages.{i}.content"))
        for i, m in enumerate(request.messages)
        if m.role != "system"
    ]
    await blocks.media.resolve()
    history.messages = normalise([(role, content) for role, content in turns if content])
    if not history.messages:
        raise InvalidRequest("messages: at least one message must have content.", param="messages")
    return history


def _system_block(block: ContentBlock) -> SystemContentBlock:
    return {"text": block["text"]} if "text" in block else {"cachePoint": block["cachePoint"]}


def _tool_config(request: CountTokensRequest, history: ConverseHistory, body: ConverseRequest) -> None:
    tools: list[Tool] = []
    for i, tool in enumerate(request.tools or ()):
        if tool.get("type") not in (None, "custom"):
            raise InvalidRequest(f"tools.{i}: `{tool['type']}` tools are available on Claude models only.")
        tools.append(
            tool_spec(_required(tool, "name", str, f"tools.{i}"), tool.get("description"), tool.get("input_schema"))
        )
        if tool.get("cache_control"):
            tools.append({"cachePoint": cache_point()})
    choice = request.tool_choice
    if choice is not None and choice.type == "tool" and not choice.name:
        raise InvalidRequest("tool_choice.name is required for tool choice `tool`.", param="tool_choice.name")
    tool_config(body, tools, history, choice.type if choice else None, choice.name if choice else None)


async def converse_request(
    request: CountTokensRequest, model: ResolvedModel, load_image: ImageLoader
) -> ConverseRequest:
    """The Converse body for a Messages (or count_tokens) request."""
    history = await _history(request, load_image)
    body: ConverseRequest = {"messages": history.messages, "system": history.system}
    fields: Document = {}
    if isinstance(request, MessagesRequest):
        body["inferenceConfig"] = inference_config(
            model,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=request.stop_sequences,
        )
        if request.top_k is not None:
            top_k_fields(model, request.top_k, fields)
    body["additionalModelRequestFields"] = fields
    _tool_config(request, history, body)
    # Claude's thinking setting as a level for the models that take levels (Claude itself goes the native way).
    if request.thinking and thinking_on(request.thinking):
        budget = int(request.thinking.get("budget_tokens") or 0)
        level = level_for_budget(budget)
        converse_thinking(model, body, level=level, budgets={level: budget})
    fit_to_model(model, body)
    return body


def _content_block(block: ContentBlock) -> MessagesBlock | None:
    if "text" in block:
        return {"type": "text", "text": block["text"]}
    if "toolUse" in block:
        use = block["toolUse"]
        return {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": use.get("input", {})}
    if "reasoningContent" in block:
        return thinking_block(block["reasoningContent"])
    return None


def _stop(reason: str | None, request: MessagesRequest, extra: Document | None) -> Stop:
    anthropic = stop_reason(reason)
    if anthropic != "stop_sequence":
        return anthropic, None
    sequence = (extra or {}).get("stop_sequence")
    if sequence is None and request.stop_sequences and len(request.stop_sequences) == 1:
        sequence = request.stop_sequences[0]
    return anthropic, sequence


def to_message(answer: ConverseResponse, request: MessagesRequest, tier: str | None = None) -> MessagesResponse:
    """The Anthropic message for a Converse answer (`tier`: the service tier asked for, if Bedrock names none)."""
    served = answer["serviceTier"].get("type") if "serviceTier" in answer else tier
    message = answer.get("output", {}).get("message")
    content = message["content"] if message else []
    reason, sequence = _stop(answer.get("stopReason"), request, answer.get("additionalModelResponseFields"))
    return {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [b for block in content if (b := _content_block(block))],
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": Usage.from_converse(answer.get("usage")).messages() | {"service_tier": anthropic_tier_name(served)},
    }


class StreamWriter:
    """ConverseStream events → Anthropic's SSE sequence: message_start, ping, content_block_start / _delta /
    _stop for each block, message_delta with the stop reason and usage, message_stop.

    Converse reports usage after the stop reason, so message_delta waits for the metadata event."""

    def __init__(self, request: MessagesRequest, tier: str | None = None) -> None:
        self._request = request
        self._tier = anthropic_tier_name(tier)  # message_start's: the tier asked (Bedrock serves at it or refuses)
        self._open: dict[int, str] = {}  # Converse block index → the Anthropic block type being streamed
        self._indexes: dict[int, int] = {}  # Converse block index → Anthropic block index
        self._stop: Stop | None = None
        self._finished = False

    def event(self, event: ConverseStreamEvent) -> list[bytes]:
        if "contentBlockDelta" in event:
            return self._delta(event["contentBlockDelta"])
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = start.get("start", {}).get("toolUse")
            if use is None:
                return []
            block: MessagesBlock = {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": {}}
            return self._begin(start.get("contentBlockIndex", 0), block)
        if "contentBlockStop" in event:
            return self._end(event["contentBlockStop"].get("contentBlockIndex", 0))
        if "messageStart" in event:
            message: MessagesResponse = {
                "id": message_id(), "type": "message", "role": "assistant", "model": self._request.model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": Usage().messages() | {"service_tier": self._tier},
            }  # fmt: skip
            return [named_event("message_start", {"type": "message_start", "message": message}), PING]
        if "messageStop" in event:
            stop = event["messageStop"]
            self._stop = _stop(stop.get("stopReason"), self._request, stop.get("additionalModelResponseFields"))
            return [line for index in list(self._open) for line in self._end(index)]
        if "metadata" in event:
            return self._finish(event["metadata"].get("usage"))
        return []

    def finish(self) -> bytes:
        """What is still owed when the upstream stream ends (nothing, when metadata came)."""
        return b"" if self._finished else b"".join(self._finish(None))

    def _begin(self, index: int, block: MessagesBlock) -> list[bytes]:
        position = self._indexes[index] = len(self._indexes)
        self._open[index] = block["type"]
        return [
            named_event(
                "content_block_start", {"type": "content_block_start", "index": position, "content_block": block}
            )
        ]

    def _end(self, index: int) -> list[bytes]:
        if self._open.pop(index, None) is None:
            return []
        return [named_event("content_block_stop", {"type": "content_block_stop", "index": self._indexes[index]})]

    def _delta(self, event: ContentBlockDeltaEvent) -> list[bytes]:
        index, delta = event.get("contentBlockIndex", 0), event.get("delta", {})
        start: MessagesBlock | None = None  # the block to open when this is its first delta
        anthropic: MessagesDelta
        if "text" in delta:
            start, anthropic = {"type": "text", "text": ""}, {"type": "text_delta", "text": delta["text"]}
        elif "toolUse" in delta:
            anthropic = {"type": "input_json_delta", "partial_json": delta["toolUse"].get("input", "")}
        elif "reasoningContent" in delta:
            reasoning = delta["reasoningContent"]
            if "redactedContent" in reasoning:
                redacted = thinking_block({"redactedContent": reasoning["redactedContent"]})
                return self._begin(index, redacted) + self._end(index)
            start = {"type": "thinking", "thinking": "", "signature": ""}
            if "signature" in reasoning:
                anthropic = {"type": "signature_delta", "signature": reasoning["signature"]}
            else:
                anthropic = {"type": "thinking_delta", "thinking": reasoning.get("text", "")}
        else:
            return []
        opened = self._begin(index, start) if start is not None and index not in self._open else []
        body = {"type": "content_block_delta", "index": self._indexes.get(index, 0), "delta": anthropic}
        return [*opened, named_event("content_block_delta", body)]

    def _finish(self, usage: TokenUsage | None) -> list[bytes]:
        if self._finished:
            return []
        self._finished = True
        reason, sequence = self._stop or ("end_turn", None)
        delta = {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence},
                 "usage": Usage.from_converse(usage).messages()}  # fmt: skip
        return [
            *(line for index in list(self._open) for line in self._end(index)),
            named_event("message_delta", delta),
            named_event("message_stop", {"type": "message_stop"}),
        ]
