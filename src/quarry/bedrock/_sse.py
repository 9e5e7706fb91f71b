"""Reading Bedrock's Messages endpoint stream (`text/event-stream`, Anthropic's events) one whole event at a time.

Events are kept as the bytes Bedrock sent, so a gateway can pass them on without re-encoding them; only the events
a caller asks about are parsed, once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["EventSplitter", "ServerSentEvent", "split_events"]

# An event ends at a blank line; servers may end lines with CRLF, LF or CR (the SSE spec allows all three).
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_NO_DATA = object()


@dataclass(slots=True)
class ServerSentEvent:
    """One event as Bedrock sent it (`raw` ends with its blank line); `name` is its `event:` field."""

    name: str
    raw: bytes
    _data: Any = field(default=_NO_DATA, repr=False)

    def data(self) -> Any:
        """The event's `data:` lines as JSON, parsed on first use; None when there is none or it is not JSON."""
        if self._data is _NO_DATA:
            lines = [line[5:].removeprefix(b" ") for line in self.raw.splitlines() if line.startswith(b"data:")]
            try:
                self._data = orjson.loads(b"\n".join(lines)) if lines else None
            except orjson.JSONDecodeError:
                self._data = None
        return self._data


def _event(raw: bytes) -> ServerSentEvent:
    name = ""
    for line in raw.splitlines():
        if line.startswith(b"event:"):
            name = line[6:].strip().decode(errors="replace")
            break
    event = ServerSentEvent(name, raw)
    if not name:  # an event without an `event:` line: its data's `type` names it, as in Anthropic's events
        data = event.data()
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            event.name = data["type"]
    return event


class EventSplitter:
    """Whole events from a body's reads, fed one read at a time, however the reads cut them."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> Iterator[ServerSentEvent]:
        buffer = self._buffer + chunk
        start = 0
        for end in _EVENT_END.finditer(buffer):
            raw = buffer[start : end.end()]
            start = end.end()
            if raw.strip():
                yield _event(raw)
        self._buffer = buffer[start:]

    def end(self) -> Iterator[ServerSentEvent]:
        """A last event without its blank line, still passed on."""
        rest, self._buffer = self._buffer, b""
        if rest.strip():
            yield _event(rest + b"\n\n")


async def split_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Whole events from the body's chunks, however the chunks cut them; a last event without its blank line is
    still passed on."""
    splitter = EventSplitter()
    async for chunk in chunks:
        for event in splitter.feed(chunk):
            yield event
    for event in splitter.end():
        yield event
