"""A Bedrock guardrail around Claude's Messages bodies (Bedrock's Messages endpoint and InvokeModel with
Anthropic's body, for the Anthropic dialect and Bedrock's own Messages route), through ApplyGuardrail: the
conversation judged as input before the call, the answer as output after it. Bedrock's Messages endpoint takes no
guardrail of its own (docs/guardrails.md), and InvokeModel's guardrail headers want the body's text tagged;
ApplyGuardrail works the same on both.

An intervention answers as Anthropic's refusal (`stop_reason: "refusal"`, the stop reason Claude's API gives when
its classifiers intervene: platform.claude.com/docs/en/test-and-evaluate/strengthen-guardrails/handle-streaming-
refusals), with the guardrail's message (or the masked text) as the answer's text.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from quarry.api._core._guardrails import INTERVENED, GuardrailVerdict, apply_guardrail
from quarry.api._core._usage import Usage, stop_reason
from quarry.api._sse import named_event
from quarry.bedrock import BedrockRuntime, MessagesResponse, MessagesStreamEvent, ServerSentEvent
from quarry.settings import GuardrailSettings

__all__ = [
    "MessagesGuard",
    "dict_events",
    "refusal_events",
    "refusal_message",
    "refusal_sse",
    "sse_events",
]

Event = TypeVar("Event")
REFUSAL = stop_reason(INTERVENED)


@dataclass(frozen=True, slots=True)
class EventKind(Generic[Event]):
    """How the guard reads and writes one kind of stream event: InvokeModel's decoded dicts, or the Messages
    endpoint's server-sent events kept as Bedrock sent them."""

    data: Callable[[Event], Any]
    make: Callable[[str, dict[str, Any]], Event]


def _made_sse(kind: str, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(kind, named_event(kind, data), data)


dict_events: EventKind[Any] = EventKind(lambda event: event, lambda kind, data: data)
sse_events: EventKind[ServerSentEvent] = EventKind(lambda event: event.data(), _made_sse)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and b.get("text")]
    return []


class MessagesGuard:
    """One call's guardrail on a Claude Messages body and its answer."""

    def __init__(self, runtime: BedrockRuntime, guardrail: GuardrailSettings) -> None:
        self._runtime = runtime
        self._guardrail = guardrail

    async def check_input(self, raw: Mapping[str, Any]) -> GuardrailVerdict:
        """The conversation's texts judged as input (as Converse's guardrailConfig judges the messages, not the
        system prompt)."""
        messages = raw.get("messages")
        texts = [t for m in messages or () if isinstance(m, dict) for t in _texts(m.get("content"))]
        return await apply_guardrail(self._runtime, self._guardrail, "INPUT", texts)

    async def check_message(self, message: MessagesResponse) -> MessagesResponse:
        """A whole answer judged as output: unchanged, or refused with what the guardrail lets out."""
        verdict = await apply_guardrail(self._runtime, self._guardrail, "OUTPUT", _texts(message.get("content")))
        if not verdict.intervened:
            return message
        message["content"] = [{"type": "text", "text": verdict.text}]
        message["stop_reason"] = REFUSAL
        message["stop_sequence"] = None
        return message

    async def stream(self, events: AsyncIterator[Event], kind: EventKind[Event]) -> AsyncIterator[Event]:
        """A stream judged as output when its text is all there. `sync` holds every event until then; `async`
        passes the content on at once and holds only the end (message_delta, message_stop), so an intervention
        still ends the stream as a refusal, with the guardrail's message as a last text block."""
        sync = self._guardrail.stream_processing_mode == "sync"
        held: list[Event] = []
        texts: dict[int, str] = {}
        start: dict[str, Any] | None = None
        blocks = 0
        async for event in events:
            data = kind.data(event)
            name = data.get("type") if isinstance(data, dict) else None
            if name == "message_start":
                start = data
            elif name == "content_block_start":
                blocks = max(blocks, int(data.get("index", 0)) + 1)
            elif name == "content_block_delta" and data.get("delta", {}).get("type") == "text_delta":
                index = int(data.get("index", 0))
                texts[index] = texts.get(index, "") + str(data["delta"].get("text", ""))
            if sync or name in ("message_delta", "message_stop"):
                held.append(event)
            else:
                yield event
        verdict = await apply_guardrail(self._runtime, self._guardrail, "OUTPUT", list(texts.values()))
        if not verdict.intervened:
            for event in held:
                yield event
            return
        end: Any = next((kind.data(e) for e in held if _name(kind.data(e)) == "message_delta"), {})
        if sync:
            yield kind.make("message_start", start or _start())
            blocks = 0
        for part in _refusal_block(blocks, verdict.text):
            yield kind.make(part["type"], part)
        usage = end.get("usage") if isinstance(end, dict) else None
        delta = {"type": "message_delta", "delta": {"stop_reason": REFUSAL, "stop_sequence": None}}
        yield kind.make("message_delta", delta | {"usage": usage or {"output_tokens": 0}})
        yield kind.make("message_stop", {"type": "message_stop"})


def _name(data: Any) -> Any:
    return data.get("type") if isinstance(data, dict) else None


def _refusal_block(index: int, text: str) -> list[dict[str, Any]]:
    return [
        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": index},
    ]


def _start(model: str = "") -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "msg_bdrk_" + secrets.token_hex(12),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": Usage().messages(),
    }
    return {"type": "message_start", "message": message}


def refusal_message(model: str, verdict: GuardrailVerdict) -> dict[str, Any]:
    """The whole answer to a conversation the guardrail refused as input: no model was asked."""
    message: dict[str, Any] = _start(model)["message"]
    return message | {"content": [{"type": "text", "text": verdict.text}], "stop_reason": REFUSAL}


def _refusal_stream(model: str, verdict: GuardrailVerdict) -> list[dict[str, Any]]:
    delta = {"stop_reason": REFUSAL, "stop_sequence": None}
    end = {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 0}}
    return [_start(model), *_refusal_block(0, verdict.text), end, {"type": "message_stop"}]


async def refusal_events(model: str, verdict: GuardrailVerdict) -> AsyncIterator[MessagesStreamEvent]:
    """The same as a stream, in InvokeModel's event shapes (the native path's renderer writes them)."""
    for event in _refusal_stream(model, verdict):
        yield cast(MessagesStreamEvent, event)  # Anthropic's event shapes, written here


def refusal_sse(model: str, verdict: GuardrailVerdict) -> bytes:
    """The same as the server-sent events Bedrock's Messages endpoint streams."""
    return b"".join(named_event(event["type"], event) for event in _refusal_stream(model, verdict))
