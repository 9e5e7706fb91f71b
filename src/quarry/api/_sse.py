"""Server-sent events from an upstream event stream: keep-alive comments in silences, backpressure, and
the upstream request dropped the moment the client goes away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import TypeAlias, TypeVar

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from quarry.errors import QuarryError, UpstreamError

__all__ = ["KEEPALIVE_COMMENT", "Render", "RenderError", "SSEResponse", "StreamHook", "named_event", "relay"]

log = logging.getLogger("quarry.sse")
_QUEUE_SIZE = 256
_END = b""

Event = TypeVar("Event")  # one upstream event: a ConverseStream event, a Messages stream event, a route's own
Render: TypeAlias = Callable[[Event], list[bytes]]
RenderError = Callable[[QuarryError], bytes]
StreamHook = Callable[[int], None]  # told +1 when a stream starts and -1 when it ends (metrics' active streams)
KEEPALIVE_COMMENT = b": keep-alive\n\n"


def named_event(kind: str, data: object) -> bytes:
    """One SSE event with an `event:` name, as Anthropic's streams send them."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def relay(
    events: AsyncIterator[Event],
    render: Render[Event],
    *,
    finish: Callable[[], bytes],
    render_error: RenderError,
    keepalive_s: float,
    keepalive: bytes = KEEPALIVE_COMMENT,
) -> AsyncIterator[bytes]:
    """SSE bytes for upstream events, then `finish()` once they end. A reader task feeds a bounded queue so
    silences can be filled with `keepalive` without cancelling the upstream read; what is queued is sent in one
    write."""
    queue: asyncio.Queue[bytes] = asyncio.Queue(_QUEUE_SIZE)

    async def read() -> None:
        try:
            async for event in events:
                for line in render(event):
                    await queue.put(line)
            await queue.put(finish())
        except QuarryError as error:
            await queue.put(render_error(error))
        except Exception:
            log.exception("a stream failed while relaying Bedrock events")
            await queue.put(render_error(UpstreamError("The stream failed inside Quarry; see the server log.")))
        await queue.put(_END)

    reader = asyncio.create_task(read())
    try:
        while True:
            if queue.empty():
                try:
                    async with asyncio.timeout(keepalive_s):
                        first = await queue.get()
                except TimeoutError:
                    yield keepalive
                    continue
            else:
                first = queue.get_nowait()
            batch = [first]
            while batch[-1] and not queue.empty():
                batch.append(queue.get_nowait())
            yield b"".join(batch)
            if not batch[-1]:
                return
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


class SSEResponse(StreamingResponse):
    """A text/event-stream response that always releases its upstream resources, even if never started, and
    tells `on_stream` when it starts and ends — completed, failed, abandoned by the client or cut at shutdown."""

    def __init__(
        self, content: AsyncIterator[bytes], resources: AsyncExitStack, *, on_stream: StreamHook | None = None
    ) -> None:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._resources = resources
        self._on_stream = on_stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hook = self._on_stream
        if hook is not None:
            hook(1)
        try:
            await super().__call__(scope, receive, send)
        finally:
            if hook is not None:
                hook(-1)
            await self._resources.aclose()
