"""Kept-alive HTTP/1.1 connections to one endpoint (bedrock-runtime's), at most `limit` open at once.

A request takes the connection used last (the likeliest to be alive), else opens one while under the limit, else
waits for one to come back. A kept-alive connection the server closed before any byte of the answer came is found
so by the send, and the request goes once more on a fresh connection: the server had let it go idle, so it did not
take the request (aiohttp and urllib3 do the same). TLS uses the default context (system CAs, hostname checked).
The host's addresses are looked up once per `_DNS_TTL_S` (as aiohttp's connector did), not per connection: a
thousand streams starting at once would otherwise queue a thousand lookups behind the loop's few resolver threads.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections import deque
from collections.abc import Mapping
from contextlib import suppress
from urllib.parse import urlsplit

from quarry.bedrock._wire import Connection, ConnectionFailed, Response, StaleConnection

__all__ = ["HttpPool"]

_DNS_TTL_S = 300.0


class HttpPool:
    """Connections to the scheme, host and port of `url`; requests name their path (`target`) themselves."""

    def __init__(
        self,
        url: str,
        *,
        limit: int,
        connect_timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        self._limit = limit
        self._connect_timeout_s = connect_timeout_s
        self._idle: deque[Connection] = deque()
        self._open = 0  # connections open or opening, idle or in use
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._closed = False
        self._addresses: list[str] = []
        self._addresses_until = 0.0
        self._lookup: asyncio.Task[list[str]] | None = None
        with suppress(ValueError):  # a name rather than an address: looked up when the first connection opens
            self._addresses, self._addresses_until = [str(ipaddress.ip_address(self._host))], float("inf")

    async def post(self, target: str, headers: Mapping[str, str], body: bytes, timeout_s: float) -> Response:
        """Send a POST and wait for its answer's head. Raises ConnectionFailed (no answer) or TimeoutError
        (connecting took longer than the connect timeout, or the answer's first byte longer than `timeout_s`)."""
        head = _head(target, headers, len(body))
        # An idle connection is taken without a coroutine of its own (the usual case on a busy gateway).
        connection = self._idle_connection() or await self._acquire(fresh=False)
        retried = False
        while True:
            try:
                connection.send(head, body, timeout_s)
                await connection.head()
            except StaleConnection as exc:
                self._release(connection, False)
                if retried:  # a fresh connection closed too: the server is refusing, not idling
                    raise ConnectionFailed(str(exc)) from None
                retried = True
                connection = await self._acquire(fresh=True)
                continue
            except BaseException:
                connection.close()
                self._release(connection, False)
                raise
            return Response(connection, self._release)

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
        self._open = 0
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionFailed("the connection pool was closed"))

    async def _acquire(self, *, fresh: bool) -> Connection:
        while True:
            if self._closed:
                raise ConnectionFailed("the connection pool was closed")
            if not fresh and (connection := self._idle_connection()) is not None:
                return connection
            if self._open < self._limit:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._freed()
                    raise
            waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if not waiter.done() or waiter.cancelled():
                    self._waiters.remove(waiter)
                elif (connection_or_slot := waiter.result()) is not None:
                    self._release(connection_or_slot, True)  # handed over as the caller left: pass it on
                else:
                    self._wake_one()  # a slot came free as the caller left: another may open a connection in it
                raise
            if handed is not None and not handed.closed:
                return handed
            if handed is not None:
                self._open -= 1  # closed while being handed over
            # else: a slot came free; go round and open a connection in it

    def _idle_connection(self) -> Connection | None:
        """The connection used last that is still open, if one is idle."""
        while self._idle and not self._closed:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
            self._open -= 1  # closed by the server while idle
        return None

    async def _connect(self) -> Connection:
        """A new connection, to the host's addresses in turn; the connect timeout covers the lookup too."""
        loop = asyncio.get_running_loop()
        failure: OSError | None = None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                for address in await self._resolve():
                    try:
                        _, connection = await loop.create_connection(
                            lambda: Connection(loop),
                            address,
                            self._port,
                            ssl=self._ssl,
                            server_hostname=self._host if self._ssl is not None else None,
                        )
                    except OSError as exc:  # refused, unreachable, TLS refused (ssl.SSLError is an OSError)
                        failure = exc
                        continue
                    return connection
        except OSError as exc:  # the lookup failed
            failure = exc
        raise ConnectionFailed(f"cannot connect to {self._host}:{self._port}: {failure or 'no address found'}")

    async def _resolve(self) -> list[str]:
        loop = asyncio.get_running_loop()
        if loop.time() < self._addresses_until:
            return self._addresses
        lookup = self._lookup
        if lookup is None or lookup.done():  # one lookup at a time, shared by the connections waiting for it
            lookup = self._lookup = loop.create_task(self._look_up())
        return await asyncio.shield(lookup)

    async def _look_up(self) -> list[str]:
        loop = asyncio.get_running_loop()
        found = await loop.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        self._addresses, self._addresses_until = addresses, loop.time() + _DNS_TTL_S
        return addresses

    def _release(self, connection: Connection, keep: bool) -> None:
        if keep and not self._closed and not connection.closed:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(connection)
                    return
            self._idle.append(connection)
            return
        connection.close()
        if not self._closed:
            self._freed()

    def _freed(self) -> None:
        """One connection fewer: a request waiting for one may open its own."""
        self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _head(target: str, headers: Mapping[str, str], length: int) -> bytes:
    """The request line and headers. A CR or LF inside a name or value (a header split in two) is refused."""
    lines = [f"{name}: {value}\r\n" for name, value in headers.items()]
    text = f"POST {target} HTTP/1.1\r\n{''.join(lines)}Content-Length: {length}\r\n\r\n"
    if text.count("\n") != len(headers) + 3 or text.count("\r") != len(headers) + 3:
        raise ValueError("a header name or value holds a line break")
    return text.encode()
