"""uvicorn's server, accepting the connections queued on its listening socket in batches.

uvloop's libuv (since 1.45, libuv/libuv#3696) accepts one connection per turn of the event loop. That is cheap when
connections trickle in, but a loaded turn (hundreds of streams' events relayed, requests set up) lasts milliseconds,
so 1,000 clients connecting at once waited 1,000 turns: in the slow-stream benchmark the last first tokens came
seconds late while the gateway had 700 connections queued and unaccepted. Here the listening socket is read by
the loop's own reader callback, which accepts what is queued, up to `_BATCH`, each time it is readable (as asyncio's
own loop does), and hands each socket to the loop as an accepted connection.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from typing import Any

import uvicorn

__all__ = ["Server"]

log = logging.getLogger("quarry.server")

# Connections accepted per readiness. Bounded so that, with several workers sharing the socket, one that wakes
# first does not take a whole burst from the others; 1,000 at once are still taken in ~8 turns, not 1,000.
_BATCH = 128
# Out of file descriptors or memory: stop accepting for this long, as asyncio does; connections wait in the backlog.
_RETRY_S = 1.0
_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Server(uvicorn.Server):
    """`uvicorn.Server` run on sockets bound by the caller (`run(sockets=[...])`), accepting in batches."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if sockets is None:  # uvicorn binds: its own accepting (not how Quarry runs it)
            await super().startup(sockets)
            return
        await super().startup(sockets=[])  # the app's lifespan, and no listener of uvicorn's own
        loop = asyncio.get_running_loop()
        config = self.config

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]  # uvicorn's protocols take these
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop
            )

        # uvicorn's shutdown closes what is in `servers` (stop accepting), then waits for each.
        accepted = [_Acceptor(loop, sock, protocol, config.backlog, config.ssl) for sock in sockets]
        self.servers = accepted  # type: ignore[assignment]


class _Acceptor:
    """A listening socket read by the loop, in place of the `asyncio.Server` that uvicorn would have made."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: Any,
        backlog: int,
        tls: ssl.SSLContext | None,
    ) -> None:
        self._loop = loop
        self._tls = tls  # uvicorn's, when it is given a certificate: the connection is TLS from its first byte
        self._sock = sock
        self._protocol = protocol
        self._opening: set[asyncio.Task[Any]] = set()
        self._closed = False
        sock.setblocking(False)
        sock.listen(backlog)  # bound by `bind`; uvicorn's create_server would have set its backlog
        loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(_BATCH):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in _RESOURCES:
                    raise
                log.warning("Not accepting connections for %g s: %s", _RETRY_S, exc)
                self._loop.remove_reader(self._sock.fileno())
                self._loop.call_later(_RETRY_S, self._resume)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._open(conn))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    async def _open(self, conn: socket.socket) -> None:
        # The loop's transport for an accepted socket: all is done before the coroutine's one wait, for the
        # protocol's connection_made, so the task ends within the next turn.
        try:
            await self._loop.connect_accepted_socket(self._protocol, conn, ssl=self._tls)
        except Exception as exc:
            conn.close()
            log.warning("A connection could not be opened: %s", exc)

    def _resume(self) -> None:
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._sock.fileno())

    async def wait_closed(self) -> None:
        if self._opening:
            await asyncio.gather(*self._opening, return_exceptions=True)
