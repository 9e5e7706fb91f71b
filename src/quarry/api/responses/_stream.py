"""ConverseStream events → the Responses API's stream events, every one with its `sequence_number`, in OpenAI's
order (https://platform.openai.com/docs/api-reference/responses-streaming): response.created and .in_progress;
for each output item .output_item.added, its parts and deltas, .output_item.done; then response.completed or
response.incomplete, or an `error` event and response.failed when the upstream fails mid-stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from quarry.api._errors import error_body
from quarry.api._sse import named_event
from quarry.api.responses._render import Builder, new_id, public_item, public_response
from quarry.bedrock import ContentBlockDeltaEvent, ConverseStreamEvent, TokenUsage
from quarry.errors import QuarryError

__all__ = ["EventWriter"]


@dataclass
class _Open:
    """An output item being streamed: which upstream content block it is and what has come of it."""

    kind: str  # message | function_call | reasoning
    index: int  # output_index
    id: str
    text: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    signature: str = ""
    redacted: str | None = None
    part_open: bool = False  # a reasoning item's summary or content part, opened by its first text
    heads: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)  # delta events' fixed parts
    text_head: tuple[bytes, bytes] = (b"", b"")  # an output_text delta's, made when a message opens


class EventWriter:
    """Renders one response's stream; `final` is the finished response once the events are over."""

    def __init__(self, builder: Builder, *, encrypted: bool) -> None:
        self._builder = builder
        self._encrypted = encrypted
        self._sequence = 0
        self._open: dict[int, _Open] = {}  # upstream content block index → its item
        self._stop: str | None = None
        self._usage: TokenUsage | None = None
        self.final: dict[str, Any] | None = None
        self._json_text = builder.plan.json_text  # JSON asked for in the prompt is checked whole, then sent

    def _event(self, kind: str, **data: Any) -> bytes:
        body = {"type": kind, "sequence_number": self._sequence, **data}
        self._sequence += 1
        return named_event(kind, body)

    def start(self) -> list[bytes]:
        body = public_response(self._builder.body("in_progress"), self._encrypted)
        lines = [self._event("response.created", response=body), self._event("response.in_progress", response=body)]
        search = self._builder.search
        if search is not None and self._builder.searched() is not None:
            lines += search.events(self._event, len(self._builder.output) - 1)
        return lines

    def event(self, event: ConverseStreamEvent) -> list[bytes]:
        """The SSE events for one ConverseStream event (often one, sometimes none or several)."""
        if "contentBlockDelta" in event:
            return self._delta(event["contentBlockDelta"])
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = start.get("start", {}).get("toolUse")
            if use is None:
                return []
            index = start.get("contentBlockIndex", 0)
            if use["name"] == self._builder.plan.json_tool:
                return self._open_item(index, "message")
            return self._open_item(index, "function_call", call_id=use["toolUseId"], name=use["name"])
        if "contentBlockStop" in event:
            return self._close(event["contentBlockStop"]["contentBlockIndex"])
        if "messageStart" in event:
            return self.start()
        if "messageStop" in event:
            self._stop = event["messageStop"].get("stopReason")
            return [line for index in list(self._open) for line in self._close(index)]
        if "metadata" in event:
            self._usage = event["metadata"].get("usage")
            if "serviceTier" in event["metadata"]:
                self._builder.served_tier = event["metadata"]["serviceTier"].get("type")
        return []

    def finish(self) -> bytes:
        """The last event: response.completed, or response.incomplete with its reason."""
        final = self.end()
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        return self._event(kind, response=public_response(final, self._encrypted))

    def end(self) -> dict[str, Any]:
        if self.final is None:
            self.final = self._builder.end(self._stop, self._usage)
        return self.final

    def error(self, error: QuarryError) -> bytes:
        """An upstream failure mid-stream: the `error` event, then response.failed."""
        return b"".join(self.failure(error))

    def failure(self, error: QuarryError) -> list[bytes]:
        """`error`'s two events, apart; `final` is the failed response."""
        envelope = error_body(error)["error"]
        failed = self._builder.body("failed")
        failed["error"] = {"code": "server_error", "message": error.message}
        self.final = failed
        return [
            self._event("error", code=envelope["code"] or envelope["type"], message=error.message, param=error.param),
            self._event("response.failed", response=public_response(failed, self._encrypted)),
        ]

    def _open_item(self, index: int, kind: str, *, call_id: str = "", name: str = "") -> list[bytes]:
        prefix = {"message": "msg", "function_call": "fc", "reasoning": "rs"}[kind]
        item = self._open[index] = _Open(kind, len(self._builder.output) + len(self._open), new_id(prefix))
        item.call_id, item.name = call_id, name
        where = {"output_index": item.index}
        if kind == "message":
            item.text_head = self._head(item, "response.output_text.delta", b',"content_index":0')
            added = {"id": item.id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            return [
                self._event("response.output_item.added", **where, item=added),
                self._event("response.content_part.added", item_id=item.id, **where, content_index=0, part=part),
            ]
        if kind == "function_call":
            shown = self._builder.function_call(call_id, name, "", item.id) | {"status": "in_progress"}
            return [self._event("response.output_item.added", **where, item=shown)]
        added = {"id": item.id, "type": "reasoning", "summary": []}
        return [self._event("response.output_item.added", **where, item=added)]

    def _open_part(self, item: _Open) -> bytes:
        """A reasoning item's part, once text comes: thinking without its text (Claude 4.7 and later omit it unless
        asked) streams no part, as the finished item has none."""
        item.part_open = True
        ids = {"item_id": item.id, "output_index": item.index}
        if self._builder.plan.summary:
            part = {"type": "summary_text", "text": ""}
            return self._event("response.reasoning_summary_part.added", **ids, summary_index=0, part=part)
        part = {"type": "reasoning_text", "text": ""}
        return self._event("response.content_part.added", **ids, content_index=0, part=part)

    def _delta(self, event: ContentBlockDeltaEvent) -> list[bytes]:
        delta, index = event.get("delta", {}), event.get("contentBlockIndex", 0)
        item = self._open.get(index)
        if "text" in delta and item is not None and item.kind == "message" and not self._json_text:
            # The hot path, one more word of an answer: one orjson call, as a chat chunk costs.
            text = delta["text"]
            item.text.append(text)
            sequence = self._sequence
            self._sequence += 1
            head = item.text_head
            return [head[0] + str(sequence).encode() + head[1] + orjson.dumps(text) + b',"logprobs":[]}\n\n']
        lines: list[bytes] = []
        if "text" in delta:
            text = delta["text"]
            if item is None:
                lines += self._open_item(index, "message")
                item = self._open[index]
            item.text.append(text)
            if not self._json_text:
                lines.append(self._text_delta(item, text))
        elif "toolUse" in delta and item is not None:
            fragment = delta["toolUse"].get("input", "")
            item.text.append(fragment)
            if item.kind == "message":
                lines.append(self._text_delta(item, fragment))
            else:
                lines.append(self._delta_event(item, "response.function_call_arguments.delta", b"", fragment))
        elif "reasoningContent" in delta:
            if item is None:
                lines += self._open_item(index, "reasoning")
                item = self._open[index]
            reasoning = delta["reasoningContent"]
            if "text" in reasoning:
                if not item.part_open:
                    lines.append(self._open_part(item))
                item.text.append(reasoning["text"])
                if self._builder.plan.summary:
                    kind, middle = "response.reasoning_summary_text.delta", b',"summary_index":0'
                else:
                    kind, middle = "response.reasoning_text.delta", b',"content_index":0'
                lines.append(self._delta_event(item, kind, middle, reasoning["text"]))
            elif "signature" in reasoning:
                item.signature += reasoning["signature"]
            elif "redactedContent" in reasoning:
                item.redacted = reasoning["redactedContent"]
        return lines

    def _text_delta(self, item: _Open, text: str) -> bytes:
        return self._delta_event(item, "response.output_text.delta", b',"content_index":0', text, b',"logprobs":[]}')

    def _delta_event(self, item: _Open, kind: str, middle: bytes, delta: str, end: bytes = b"}") -> bytes:
        sequence = self._sequence
        self._sequence += 1
        head = self._head(item, kind, middle)
        return head[0] + str(sequence).encode() + head[1] + orjson.dumps(delta) + end + b"\n\n"

    @staticmethod
    def _head(item: _Open, kind: str, middle: bytes) -> tuple[bytes, bytes]:
        """A delta event's fixed parts (around its sequence number), made once per item and kind: each delta then
        costs one orjson call, as a chat chunk does (bench/responses_events_cpu.py)."""
        head = item.heads.get(kind)  # a kind always has the same middle part
        if head is None:
            head = item.heads[kind] = (
                b"event: " + kind.encode() + b'\ndata: {"type":"' + kind.encode() + b'","sequence_number":',
                b',"item_id":"' + item.id.encode() + b'","output_index":' + str(item.index).encode() + middle
                + b',"delta":',
            )  # fmt: skip
        return head

    def _close(self, index: int) -> list[bytes]:
        item = self._open.pop(index, None)
        if item is None:
            return []
        text = "".join(item.text)
        builder = self._builder
        ids = {"item_id": item.id, "output_index": item.index}
        lines: list[bytes] = []
        if item.kind == "message":
            done = builder.message(text or "", item_id=item.id)
            final = done["content"][0]["text"]
            if builder.plan.json_text and final:
                lines.append(self._text_delta(item, final))
            for n, annotation in enumerate(done["content"][0]["annotations"]):
                added = {"content_index": 0, "annotation_index": n, "annotation": annotation}
                lines.append(self._event("response.output_text.annotation.added", **ids, **added))
            lines.append(self._event("response.output_text.done", **ids, content_index=0, text=final, logprobs=[]))
            lines.append(self._event("response.content_part.done", **ids, content_index=0, part=done["content"][0]))
        elif item.kind == "function_call":
            done = builder.function_call(item.call_id, item.name, text or "{}", item.id)
            args = done["arguments"]
            lines.append(self._event("response.function_call_arguments.done", **ids, name=done["name"], arguments=args))
        else:
            done = builder.reasoning(text, item.signature, item.redacted, item.id)
            if item.part_open and builder.plan.summary:
                part = {"type": "summary_text", "text": text}
                lines.append(self._event("response.reasoning_summary_text.done", **ids, summary_index=0, text=text))
                lines.append(self._event("response.reasoning_summary_part.done", **ids, summary_index=0, part=part))
            elif item.part_open:
                part = {"type": "reasoning_text", "text": text}
                lines.append(self._event("response.reasoning_text.done", **ids, content_index=0, text=text))
                lines.append(self._event("response.content_part.done", **ids, content_index=0, part=part))
        builder.output.append(done)
        shown = public_item(done, self._encrypted)
        lines.append(self._event("response.output_item.done", output_index=item.index, item=shown))
        return lines
