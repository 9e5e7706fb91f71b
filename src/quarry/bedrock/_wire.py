"""One HTTP/1.1 keep-alive connection to Bedrock: an asyncio protocol around httptools (llhttp, uvicorn's parser)
that sends a request and hands back its answer, whole or piece by piece.

Why not aiohttp: a Converse call through aiohttp's client cost ~90 µs of CPU (its request and response objects,
header multidicts, per-read timers), a third of the gateway's whole cost per request, for features bedrock-runtime
never uses (cookies, redirects, proxies, compression, multipart). This does what Bedrock's calls need: one request
at a time per connection, Content-Length, chunked and read-until-close answers, one timer per exchange.

Waiting is timed as aiohttp's `sock_read` times it: a read that has waited `timeout_s` with nothing arriving ends
with a TimeoutError, and time the caller spends not reading is not counted. One timer per connection looks at the
read only when it falls due (a paced stream would otherwise make and drop a timer per event), and it outlives the
exchange that set it: the next exchange on the connection is timed by it too, unless it must fire sooner (making
and cancelling a timer per exchange was ~1.3 µs of a Converse call).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TypeVar, overload

import httptools

__all__ = ["Connection", "ConnectionFailed", "Headers", "HttpError", "ReleaseHook", "Response", "StaleConnection"]

_T = TypeVar("_T")
# How early the timer may fire and still count as due: loops round timers (uvloop to the millisecond), and a timer
# found a hair early would otherwise set itself again for the same moment.
_EARLY = 0.005
# Body bytes held for a reader that is not reading before the socket stops being read (the server then waits).
_HIGH_WATER = 1 << 16


class HttpError(Exception):
    """The exchange broke: the connection closed or failed mid-answer, or the answer was not HTTP/1.1."""


class ConnectionFailed(HttpError):
    """No answer at all: the connection could not be opened, or closed before any byte of the answer came."""


class StaleConnection(ConnectionFailed):
    """A kept-alive connection closed by the server before any byte of the answer: the request may go again on a
    fresh one (the server had let the connection go idle, so it did not take the request)."""


class Headers(Mapping[str, str]):
    """An answer's headers: names as sent, looked up regardless of case (a repeated header keeps its last value)."""

    __slots__ = ("_by_lower", "_names", "_pairs")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._by_lower = {name.lower(): value for name, value in pairs}
        self._names: dict[str, str] | None = None  # made when first iterated: the hot path only looks names up

    def __getitem__(self, name: str) -> str:
        return self._by_lower[name.lower()]

    @overload
    def get(self, name: str, /) -> str | None: ...

    @overload
    def get(self, name: str, default: str, /) -> str: ...

    @overload
    def get(self, name: str, default: _T, /) -> str | _T: ...

    def get(self, name: str, default: object = None, /) -> object:
        return self._by_lower.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_lower

    def __iter__(self) -> Iterator[str]:
        return iter(self._as_sent())

    def __len__(self) -> int:
        return len(self._as_sent())

    def _as_sent(self) -> dict[str, str]:
        if self._names is None:
            self._names = dict(self._pairs)
        return self._names


class Connection(asyncio.Protocol):
    """One connection's state across its exchanges; its parser carries over from one answer to the next."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.exchanges = 0  # answers started on this connection (more than one: it was kept alive)
        self._timer: asyncio.TimerHandle | None = None  # kept across exchanges; see the module's docstring
        self._timer_due = 0.0
        self._reset()

    def _reset(self) -> None:
        self._pairs: list[tuple[str, str]] = []
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self.status = 0  # set once the answer's head is in
        self.headers: Headers | None = None
        self.complete = False
        self.reusable = False
        self._started = False  # a byte of the answer has come
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._waiting_since = 0.0
        self._timeout_s = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport: create_connection's

    def data_received(self, data: bytes) -> None:
        self._started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"Bedrock's answer is not valid HTTP/1.1: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.complete or self._error is not None:
            return
        if self.headers is not None and _ends_at_close(self.status, self.headers):
            self._finish()  # an answer without a length ends when its connection does
            return
        if not self._started and self.exchanges > 1:
            self._fail(StaleConnection("the kept-alive connection was closed before any answer"))
        elif not self._started:
            self._fail(ConnectionFailed(f"the connection closed before any answer{f': {exc}' if exc else ''}"))
        else:
            self._fail(HttpError(f"the connection closed before the answer ended{f': {exc}' if exc else ''}"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._pairs.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        parser = self._parser
        self.status = parser.get_status_code()
        self.headers = Headers(self._pairs)
        self.reusable = parser.should_keep_alive()
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and self._waiter is None and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self._finish()

    # the exchange

    def send(self, head: bytes, body: bytes, timeout_s: float) -> None:
        """Write one request; its answer is awaited with `head()`, waits timed with `timeout_s`."""
        self._reset()
        self.exchanges += 1
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():  # closed by the server since it was pooled
            self._error = StaleConnection("the kept-alive connection was closed before the request")
            return
        self._timeout_s = timeout_s
        due = self._loop.time() + timeout_s
        if self._timer is None or self._timer_due > due:  # else the timer set earlier falls due first, and looks
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_due = self._loop.call_at(due, self._tick), due
        transport.write(head + body)

    @property
    def drained(self) -> bool:
        """The answer has ended and its body has all been read."""
        return self.complete and not self._body

    def set_timeout(self, timeout_s: float) -> None:
        """Time the waits from now on with `timeout_s` (a stream's idle timeout, once its answer has started)."""
        self._timeout_s = timeout_s

    async def head(self) -> None:
        """Wait for the answer's status and headers."""
        while self.headers is None:
            await self._wait()

    async def read_some(self) -> bytes:
        """The body's next bytes as they arrive; b"" once it has ended."""
        while not self._body:
            if self.complete:
                return b""
            await self._wait()
        return self.take_all()

    def take_all(self) -> bytes:
        """The body held so far, all at once (b"" if none), without waiting."""
        body = self._body
        chunk = body.popleft() if len(body) == 1 else b"".join(body)
        body.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    def close(self) -> None:
        """Drop the connection now (an unfinished answer ends the upstream request)."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        waiter = self._waiter = self._loop.create_future()
        self._waiting_since = self._loop.time()
        try:
            await waiter
        finally:
            self._waiter = None
            self._waiting_since = 0.0
        if self._error is not None:
            raise self._error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _finish(self) -> None:
        self.complete = True  # the timer stays, for the next exchange
        self._wake()

    def _fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        self._wake()

    def _tick(self) -> None:
        self._timer = None
        if self.complete or self.closed or self._error is not None:
            return
        now = self._loop.time()
        since = self._waiting_since
        if since and now - since >= self._timeout_s - _EARLY:
            self._fail(TimeoutError(f"nothing from Bedrock for {self._timeout_s:g} s"))
            self.close()
            return
        due = (since or now) + self._timeout_s
        self._timer, self._timer_due = self._loop.call_at(due, self._tick), due


def _ends_at_close(status: int, headers: Headers) -> bool:
    """Whether an answer has neither a length nor chunks, so its body ends when the connection does (asked only
    when the connection is lost: the parser finds the end of every other answer itself)."""
    return (
        "content-length" not in headers
        and "chunked" not in (headers.get("transfer-encoding") or "").lower()
        and status not in (204, 304)
    )


# What a Response calls once, with its connection and whether that connection may be used again.
ReleaseHook = Callable[[Connection, bool], None]


class Response:
    """An answer whose head is in: status, headers, then the body (`read`) or its pieces (`read_some`). Give it
    back with `release()` (its connection is kept if the body was read to its end) or `close()`."""

    __slots__ = ("_connection", "_release", "headers", "status")

    def __init__(self, connection: Connection, release: ReleaseHook) -> None:
        self._connection = connection
        self._release: ReleaseHook | None = release
        self.status = connection.status
        assert connection.headers is not None
        self.headers: Headers = connection.headers

    @property
    def finished(self) -> bool:
        return self._connection.complete

    async def read(self) -> bytes:
        connection = self._connection
        pieces = []
        while piece := await connection.read_some():
            pieces.append(piece)
            if connection.drained:  # the end is in already: no call just to be told so
                break
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def read_now(self) -> bytes | None:
        """The whole body if it has all come (and not been read), else None."""
        connection = self._connection
        return connection.take_all() if connection.complete else None

    async def read_some(self) -> bytes:
        return await self._connection.read_some()

    async def chunks(self, idle_s: float) -> AsyncIterator[bytes]:
        """The body's pieces as they arrive (a stream's events); a silence of `idle_s` while waiting for the next
        raises a TimeoutError."""
        read = self.reader(idle_s)
        while chunk := await read():
            yield chunk

    def reader(self, idle_s: float) -> Callable[[], Awaitable[bytes]]:
        """What `chunks` iterates, as a function: each call, the body's next piece (b"" once it has ended), a
        silence of `idle_s` while waiting raising a TimeoutError. For a caller that is an async generator itself,
        one level fewer for every piece."""
        connection = self._connection
        connection.set_timeout(idle_s)
        return connection.read_some

    def release(self) -> None:
        """Done with the answer: its connection goes back to the pool if the body was read to its end and the
        server keeps it alive, else it is closed."""
        release, self._release = self._release, None
        if release is not None:
            connection = self._connection
            keep = connection.complete and connection.reusable and not connection.closed
            if not keep:
                connection.close()
            release(connection, keep)

    def close(self) -> None:
        """Drop the answer and its connection now."""
        self._connection.close()
        self.release()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()
