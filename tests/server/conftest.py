"""Raw-socket helpers for the connection-limit tests: what a slow or greedy client does, byte by byte."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from quarry.server import uvicorn_options
from quarry.settings import Settings

# Only a hang guard: every wait in these tests ends on the server's action long before it.
GUARD_S = 20.0


Connect = Callable[[str], socket.socket]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Opens raw client connections, all closed after the test."""
    opened: list[socket.socket] = []

    def open_connection(url: str) -> socket.socket:
        host, port = url.removeprefix("http://").split(":")
        opened.append(socket.create_connection((host, int(port)), timeout=GUARD_S))
        return opened[-1]

    yield open_connection
    for sock in opened:
        sock.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    received = b""
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data


class GuardedServer:
    """uvicorn with Quarry's connection limits, serving `app` on a free loopback port in a background thread."""

    def __init__(self, app: Any, *, lifespan: str = "off", **settings: Any) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        options = uvicorn_options(Settings(**settings))
        config = uvicorn.Config(app, lifespan=lifespan, log_level="critical", access_log=False, **options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def open_connections(self) -> int:
        return len(self._server.server_state.connections)

    def __enter__(self) -> GuardedServer:
        self._thread.start()
        deadline = time.monotonic() + GUARD_S
        while not self._server.started:
            assert self._thread.is_alive(), "the test server did not start"
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=GUARD_S)
        self._socket.close()
