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
_QUEUE_SIZE = 256  # lines rendered and not yet sent, past which the upstream read waits

Event = TypeVar("Event")  # one upstream event: a ConverseStream event, a Messages stream event, a route's own
Render: TypeAlias = Callable[[Event], list[bytes]]
RenderError = Callable[[QuarryError], bytes]
StreamHook = Callable[[int], None]  # told +1 when a stream starts and -1 when it ends (metrics' active streams)
KEEPALIVE_COMMENT = b": keep-alive\n\n"
# How early a timer may fire and still count as due: loops round timers (uvloop to the millisecond), and a timer
# found a hair early would otherwise set itself again for the same moment.
_EARLY = 0.005


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
    """SSE bytes for upstream events, then `finish()` once they end. A reader task renders into a bounded pipe so
    silences can be filled with `keepalive` without cancelling the upstream read; what is pending is sent in one
    write."""
    pipe = _Pipe(keepalive_s, keepalive)

    async def read() -> None:
        try:
            async for event in events:
                pipe.put(render(event))
                if pipe.full():  # tested first: no coroutine made per event when there is room
                    await pipe.room()
            pipe.put([finish()])
        except QuarryError as error:
            pipe.put([render_error(error)])
        except Exception:
            log.exception("a stream failed while relaying Bedrock events")
            pipe.put([render_error(UpstreamError("The stream failed inside Quarry; see the server log."))])
        pipe.end()

    reader = asyncio.create_task(read())
    try:
        while (data := await pipe.take()) is not None:
            yield data
    finally:
        pipe.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


class _Pipe:
    """Rendered bytes on their way from the reader task to the response: a list, one waiter each way, and one
    keep-alive timer per stream.

    It replaces an `asyncio.Queue` with `asyncio.timeout(keepalive_s)` around every wait, which cost a coroutine
    per line put and a timer scheduled and cancelled per event: with 1,000 paced streams, events arrive one at a
    time and those were a good part of each event's cost. The timer here fires at most once per `keepalive_s` and
    only then looks at how long the response has been waiting.
    """

    __slots__ = (
        "_ended",
        "_keepalive",
        "_keepalive_due",
        "_keepalive_s",
        "_loop",
        "_pending",
        "_room",
        "_timer",
        "_waited_from",
        "_waiter",
    )

    def __init__(self, keepalive_s: float, keepalive: bytes) -> None:
        self._loop = asyncio.get_running_loop()
        self._pending: list[bytes] = []
        self._waiter: asyncio.Future[None] | None = None  # the response, waiting for bytes
        self._room: asyncio.Future[None] | None = None  # the reader, waiting for the response to catch up
        self._ended = False
        self._keepalive_s = keepalive_s
        self._keepalive = keepalive
        self._keepalive_due = False
        self._waited_from = self._loop.time()
        self._timer = self._loop.call_at(self._waited_from + keepalive_s, self._tick)

    def put(self, lines: list[bytes]) -> None:
        if lines:
            self._pending += lines
            self._wake()

    def end(self) -> None:
        self._ended = True
        self._wake()

    def full(self) -> bool:
        return len(self._pending) >= _QUEUE_SIZE

    async def room(self) -> None:
        """Wait while the response is `_QUEUE_SIZE` lines behind (a slow client): backpressure on the upstream."""
        while len(self._pending) >= _QUEUE_SIZE and not self._ended:
            self._room = self._loop.create_future()
            await self._room

    async def take(self) -> bytes | None:
        """What is pending, in one piece; the keep-alive after a silence of `keepalive_s`; None once all is taken."""
        while not self._pending:
            if self._ended:
                return None
            if self._keepalive_due:
                self._keepalive_due = False
                return self._keepalive
            self._waited_from = self._loop.time()
            self._waiter = self._loop.create_future()
            await self._waiter
        pending = self._pending
        self._pending = []
        room = self._room
        if room is not None:
            self._room = None
            if not room.done():
                room.set_result(None)
        return pending[0] if len(pending) == 1 else b"".join(pending)

    def close(self) -> None:
        self._timer.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _tick(self) -> None:
        now = self._loop.time()
        due = self._waited_from + self._keepalive_s
        if self._waiter is not None and now >= due - _EARLY:
            self._keepalive_due = True
            self._wake()
            due = now + self._keepalive_s
        elif due <= now:
            due = now + self._keepalive_s  # busy sending: look again a whole interval later
        self._timer = self._loop.call_at(due, self._tick)


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
            await self._respond(receive, send)
            if self.background is not None:
                await self.background()
        finally:
            if hook is not None:
                hook(-1)
            await self._resources.aclose()

    async def _respond(self, receive: Receive, send: Send) -> None:
        """Stream, and stop the moment the client goes away.

        uvicorn speaks ASGI 2.3 (a send after the client left is dropped, not an error), for which Starlette runs
        the stream in a new task of an anyio task group beside a task waiting for `http.disconnect`. Here the stream
        runs in the request's own task and one plain task waits for the disconnect and cancels it: per stream one
        task fewer and no task group or cancel scope, in the set-up of each of 1,000 streams opened at once.
        """
        streaming = asyncio.current_task()
        assert streaming is not None
        left = asyncio.get_running_loop().create_future()
        listener = asyncio.create_task(_until_disconnect(receive, left))

        responding = True

        def client_left(_: object) -> None:
            if responding:  # a done callback runs a loop turn later: the response may have ended since
                streaming.cancel()

        left.add_done_callback(client_left)
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            # Ours (the client left) ends the response quietly; any other (shutdown, the caller's) goes on.
            if not (left.done() and streaming.uncancel() == 0):
                raise
        finally:
            responding = False
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)


async def _until_disconnect(receive: Receive, left: asyncio.Future[None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    if not left.done():
        left.set_result(None)
