"""Converse answers → OpenAI chat completions: whole (`completion`) or as SSE chunks (`ChunkWriter`)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from quarry.api._core import Usage, extract_json, openai_tier_name, stop_reason, thinking_block
from quarry.api._errors import error_body
from quarry.api.openai._request import ChatPlan
from quarry.bedrock import (
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ConverseResponse,
    ConverseStreamEvent,
    MessagesRedactedThinkingBlock,
    MessagesStopReason,
    MessagesThinkingBlock,
    ReasoningContentBlockDelta,
    TokenUsage,
)
from quarry.errors import QuarryError

__all__ = ["DONE", "ChunkWriter", "completion", "completion_id", "finish_reason", "render_error", "usage"]

DONE = b"data: [DONE]\n\n"  # the end of every OpenAI stream

# The core's stop reasons as OpenAI's finish_reason.
_FINISH: dict[MessagesStopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def render_error(error: QuarryError) -> bytes:
    """An upstream failure mid-stream: OpenAI's error envelope as one more `data:` event."""
    return b"data: " + orjson.dumps(error_body(error)) + b"\n\n"


def completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(16)}"


def finish_reason(converse_reason: str | None, plan: ChatPlan) -> str:
    reason = _FINISH[stop_reason(converse_reason)]
    return "stop" if reason == "tool_calls" and plan.json_tool else reason


def usage(bedrock: TokenUsage | Usage | None) -> dict[str, Any]:
    """OpenAI counts cached prompt tokens inside prompt_tokens; Bedrock counts them apart."""
    tokens = bedrock if isinstance(bedrock, Usage) else Usage.from_converse(bedrock)
    return {
        "prompt_tokens": tokens.prompt,
        "completion_tokens": tokens.output,
        "total_tokens": tokens.prompt + tokens.output,
        "prompt_tokens_details": {"cached_tokens": tokens.cache_read},
    }


def _asked_tier(plan: ChatPlan) -> str | None:
    return plan.body.get("serviceTier", {}).get("type")


def completion(plan: ChatPlan, answer: ConverseResponse) -> dict[str, Any]:
    """The chat.completion object for a Converse answer."""
    texts: list[str] = []
    thinking: list[MessagesThinkingBlock | MessagesRedactedThinkingBlock] = []
    calls: list[dict[str, Any]] = []
    for block in answer.get("output", {}).get("message", {}).get("content", []):
        if "text" in block:
            texts.append(block["text"])
        elif "reasoningContent" in block:
            thinking.append(thinking_block(block["reasoningContent"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            arguments = orjson.dumps(use.get("input", {})).decode()
            if use["name"] == plan.json_tool:
                texts.append(arguments)
            else:
                function = {"name": use["name"], "arguments": arguments}
                calls.append({"id": use["toolUseId"], "type": "function", "function": function})
    content = "".join(texts) if texts else None
    if plan.json_text and content is not None:
        content = extract_json(content)
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(b["thinking"] for b in thinking if b["type"] == "thinking")
        message["thinking_blocks"] = thinking
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": plan.model.id,
        "system_fingerprint": None,
        # The tier that served the call (Bedrock's `serviceTier`), in OpenAI's name for it.
        "service_tier": openai_tier_name(answer.get("serviceTier", {}).get("type") or _asked_tier(plan)),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(answer.get("stopReason"), plan),
            }
        ],
        "usage": usage(answer.get("usage", {})),
    }


_TEXT_TAIL = b'},"logprobs":null,"finish_reason":null}]}\n\n'


class ChunkWriter:
    """Turns ConverseStream events into `data: {chunk}` SSE lines, one event at a time."""

    def __init__(self, plan: ChatPlan, *, include_usage: bool, sources: list[dict[str, Any]] | None = None) -> None:
        self._plan = plan
        self._include_usage = include_usage
        # A knowledge-base answer's passages: sent with the first chunk as retrieved, and with the finishing chunk
        # once the text written says which of them it cites.
        self._sources = sources
        self._written: list[str] = []
        self._head = (
            b'{"id":"'
            + completion_id().encode()
            + b'","object":"chat.completion.chunk","created":'
            + str(int(time.time())).encode()
            + b',"model":'
            + orjson.dumps(plan.model.id)
            + b',"system_fingerprint":null,'
        )
        # Every chunk names the tier: the one asked for (Bedrock serves at it or refuses the call) until the stream's
        # metadata says which served it.
        self._name_tier(_asked_tier(plan))
        self._tools: dict[int, int] = {}  # content block index → tool_calls index
        self._json_blocks: set[int] = set()  # blocks whose tool input is the JSON answer
        self._reasoning: dict[int, MessagesThinkingBlock | MessagesRedactedThinkingBlock] = {}
        self._held: list[str] = []  # JSON asked for in the prompt is checked whole before it is sent
        self._finish: str | None = None

    def _name_tier(self, served: str | None) -> None:
        self._prefix = self._head + b'"service_tier":' + orjson.dumps(openai_tier_name(served)) + b","
        # A text delta, the chunk streams are made of, is these bytes around its JSON string: the bytes `_chunk` gives
        # for `{"content": text}`, without building and serialising the choice's dict per token.
        self._text_head = b"data: " + self._prefix + b'"choices":[{"index":0,"delta":{"content":'

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + self._prefix + b'"choices":[' + orjson.dumps(choice) + b"]}\n\n"

    def event(self, event: ConverseStreamEvent) -> list[bytes]:
        """The SSE lines for one ConverseStream event (often one, sometimes none)."""
        if "contentBlockDelta" in event:
            return self._delta(event["contentBlockDelta"])
        if "contentBlockStart" in event:
            return self._start(event["contentBlockStart"])
        if "contentBlockStop" in event:
            return self._stop(event["contentBlockStop"]["contentBlockIndex"])
        if "messageStart" in event:
            first: dict[str, Any] = {"role": "assistant", "content": ""}
            if self._sources is not None:
                first["sources"] = self._sources
            return [self._chunk(first)]
        if "messageStop" in event:
            self._finish = finish_reason(event["messageStop"].get("stopReason"), self._plan)
            out = [self._chunk({"content": extract_json("".join(self._held))})] if self._held else []
            last = {} if self._sources is None else {"sources": self._cited(self._sources)}
            return [*out, self._chunk(last, self._finish)]
        if "metadata" in event and "serviceTier" in event["metadata"]:
            self._name_tier(event["metadata"]["serviceTier"].get("type"))
        if "metadata" in event and self._include_usage:
            body = {"choices": [], "usage": usage(event["metadata"].get("usage", {}))}
            return [b"data: " + self._prefix + orjson.dumps(body)[1:] + b"\n\n"]
        return []

    def _cited(self, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The sources with `cited` set as the whole answer's are: by the [n] the text written cites."""
        from quarry.kb import cited_numbers  # there are sources only where the kb extra is

        cited = set(cited_numbers("".join(self._written), len(sources)))
        return [{**source, "cited": source["n"] in cited} for source in sources]

    def _start(self, start: ContentBlockStartEvent) -> list[bytes]:
        use = start.get("start", {}).get("toolUse")
        if use is None:
            return []
        index = start.get("contentBlockIndex", 0)
        if use["name"] == self._plan.json_tool:
            self._json_blocks.add(index)
            return []
        position = self._tools[index] = len(self._tools)
        call = {"index": position, "id": use["toolUseId"], "type": "function"}
        call["function"] = {"name": use["name"], "arguments": ""}
        return [self._chunk({"tool_calls": [call]})]

    def _delta(self, event: ContentBlockDeltaEvent) -> list[bytes]:
        delta, index = event.get("delta", {}), event.get("contentBlockIndex", 0)
        if "text" in delta:
            if self._sources is not None:
                self._written.append(delta["text"])
            if self._plan.json_text:
                self._held.append(delta["text"])
                return []
            return [self._text_head + orjson.dumps(delta["text"]) + _TEXT_TAIL]
        if "toolUse" in delta:
            fragment = delta["toolUse"].get("input", "")
            if index in self._json_blocks:
                return [self._chunk({"content": fragment})]
            call = {"index": self._tools.get(index, 0), "function": {"arguments": fragment}}
            return [self._chunk({"tool_calls": [call]})]
        if "reasoningContent" in delta:
            return self._reason(index, delta["reasoningContent"])
        return []

    def _reason(self, index: int, delta: ReasoningContentBlockDelta) -> list[bytes]:
        block = self._reasoning.setdefault(index, {"type": "thinking", "thinking": "", "signature": ""})
        if "text" in delta:
            if block["type"] == "thinking":
                block["thinking"] += delta["text"]
            return [self._chunk({"reasoning_content": delta["text"]})]
        if "signature" in delta:
            if block["type"] == "thinking":
                block["signature"] += delta["signature"]
        elif "redactedContent" in delta:
            self._reasoning[index] = {"type": "redacted_thinking", "data": delta["redactedContent"]}
        return []

    def _stop(self, index: int) -> list[bytes]:
        block = self._reasoning.pop(index, None)
        # The signed block arrives whole when it ends, so clients can send it back on the next turn.
        return [self._chunk({"thinking_blocks": [block]})] if block else []
