"""Slow and numerous clients: header and body timeouts and a bound on open connections, at uvicorn's protocol level.

uvicorn starts no timer while a request head arrives nor between body chunks, and accepts sockets without bound, so
a client that sends one byte a minute (slowloris) holds a connection, a task and a file descriptor for ever. This
subclass of the protocol uvicorn picks by default (httptools, for its speed) adds the missing timers and bound;
`quarry serve`, `quarry ui` and `quarry emulator` all run it. Responses, SSE streams included, are never timed:
once a request is read, the app decides how long it takes.

It also sends a response's head with its first body bytes: uvicorn writes the status line and headers as soon as
the app sends `http.response.start`, then the body in a second write, and on this machine a loopback `send()` costs
about 8.5 µs of CPU (docs/performance.md), as much as a tenth of what the gateway spends on a request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from quarry.settings import Settings

__all__ = ["ConnectionLimits", "uvicorn_options"]


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a request head and a body's silences may last, and how many client connections may be open."""

    header_timeout_s: float
    body_timeout_s: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.http_header_timeout_s, settings.http_body_timeout_s, settings.max_connections)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.Config` that apply Quarry's limits on client connections."""
    limits = ConnectionLimits.from_settings(settings)
    # uvicorn instantiates the class itself, with its own arguments: the limits ride on a subclass made per server.
    protocol = type("QuarryHttpProtocol", (_GuardedProtocol,), {"limits": limits})
    return {
        "http": protocol,
        # uvicorn's own idle timer between requests on a kept-alive connection.
        "timeout_keep_alive": settings.http_keep_alive_s,
    }


class _HeadWithBody:
    """What one request's response cycle writes through: its first write (the head, or a 100 Continue) is held
    until the next write, which takes it along, or until the loop's next turn, whichever comes first. So a whole
    response goes out in one `send()`, and a stream's head with its first event when that is ready at once; a head
    whose body waits (a stream before its first event) still leaves within one turn of the loop. Later writes pass
    straight through."""

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._first = True
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self._flush)
            return
        held, self._held = self._held, None
        self._transport.write(data if held is None else held + data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)


def _plain(status: bytes, message: str) -> bytes:
    body = message.encode()
    head = b"HTTP/1.1 %s\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: %d\r\n\r\n"
    return head % (status, len(body)) + body


class _GuardedProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]

    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _head_since: float | None = None  # loop time the awaited request head's clock started; None: no head awaited
    _head_started = False  # a byte of the awaited request head has arrived
    _body_pending = False  # a request head is complete, its body not yet

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn's signature
        super().connection_made(transport)
        # The bound counts sockets (idle kept-alive ones too): what a flood exhausts is descriptors and memory, and
        # uvicorn's limit_concurrency only answers after a whole request head, which a slow client never completes.
        if len(self.connections) > self.limits.max_connections:
            self.logger.warning("Refused a connection: %d open (QUARRY_MAX_CONNECTIONS)", len(self.connections) - 1)
            bound = self.limits.max_connections
            message = f"Too many open connections (max_connections={bound}, QUARRY_MAX_CONNECTIONS)."
            transport.write(_plain(b"503 Service Unavailable", message))
            transport.close()
            return
        # From the moment a connection opens, its first request head must arrive in time.
        self._head_since = self.loop.time()
        self._arm_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Timers are armed only when a read leaves a head or a body unfinished: a request that arrives whole in one
        # read (nearly all of them) costs no timer at all.
        if self.transport.is_closing():
            return
        if self._head_since is not None and self._head_timer is None:
            self._arm_head()
        if self._body_pending:
            self._arm_body()  # again on every read: the limit is on silences, not on the body's total time

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the socket over; its own pings time it.
        self._body_pending = False
        self._cancel_timers()
        super().handle_websocket_upgrade()

    # Parser callbacks --------------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        # On a kept-alive connection the clock starts with the first byte of the next request.
        self._head_started = True
        if self._head_since is None:
            self._head_since = self.loop.time()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._head_since = None
        self._head_started = False
        self._cancel(self._head_timer)
        self._head_timer = None
        super().on_headers_complete()
        upgrading = self.parser.should_upgrade() and self._should_upgrade()
        self._body_pending = not upgrading
        if not upgrading and self.cycle is not None:
            # The cycle's writes only (status, headers, body, 100 Continue); the protocol's own go straight out.
            self.cycle.transport = _HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._body_pending = False
        self._cancel(self._body_timer)
        self._body_timer = None
        super().on_message_complete()

    # Timers ------------------------------------------------------------------------------------------------------

    def _arm_head(self) -> None:
        self._cancel(self._head_timer)
        since = self.loop.time() if self._head_since is None else self._head_since
        self._head_timer = self.loop.call_at(since + self.limits.header_timeout_s, self._head_expired)

    def _arm_body(self) -> None:
        self._cancel(self._body_timer)
        self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_stalled)

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    def _cancel_timers(self) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._body_timer)
        self._head_timer = self._body_timer = None

    def _busy(self) -> bool:
        # Reading is paused while this connection's current response runs (pipelining) or the app has not taken
        # the body read so far: then the wait is the server's, not the client's.
        return self.flow.read_paused or bool(self.cycle is not None and not self.cycle.response_complete)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._busy():
            self._head_since = self.loop.time()  # the server's wait is not the client's: a fresh period
            self._arm_head()
            return
        if self._head_started:
            limit = self.limits.header_timeout_s
            message = f"The request head did not arrive within {limit:g} s (QUARRY_HTTP_HEADER_TIMEOUT_S)."
            self.transport.write(_plain(b"408 Request Timeout", message))
        # A connection that sent nothing is closed without a word, as on keep-alive expiry: a browser's
        # pre-opened socket must not read a 408 it never asked for.
        self._close()

    def _body_stalled(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            self._arm_body()
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            limit = self.limits.body_timeout_s
            message = f"The request body stalled for {limit:g} s (QUARRY_HTTP_BODY_TIMEOUT_S)."
            self.transport.write(_plain(b"408 Request Timeout", message))
        if cycle is not None:
            # The app sees a disconnect on its next receive, and its sends are dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self._close()

    def _close(self) -> None:
        self._cancel_timers()
        self.transport.close()
