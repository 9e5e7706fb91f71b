"""Shared fixtures: real servers on real loopback sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn


class ServerThread:
    """An ASGI app served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: Any, *, lifespan: str = "off") -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:  # with lifespan on, set once startup has completed
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


class SDKs:
    """The official clients, made for a test and closed after it (an unclosed one leaks sockets)."""

    def __init__(self) -> None:
        self._made: list[Any] = []

    def openai(self, base_url: str, key: str, **options: Any) -> Any:
        import openai

        client = openai.OpenAI(base_url=base_url, api_key=key, **{"max_retries": 0, **options})
        self._made.append(client)
        return client

    def anthropic(self, base_url: str, key: str, **options: Any) -> Any:
        import anthropic

        client = anthropic.Anthropic(base_url=base_url, api_key=key, **{"max_retries": 0, **options})
        self._made.append(client)
        return client

    def close(self) -> None:
        for client in self._made:
            client.close()


@pytest.fixture
def sdk() -> Iterator[SDKs]:
    made = SDKs()
    yield made
    made.close()


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Quarry's data (the SQLite database) in a temporary folder, never in the user's own data dir."""
    path = tmp_path_factory.mktemp("quarry-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUARRY_DATA_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def serve() -> Iterator[Any]:
    """Start servers for the whole session: `serve(app)` returns a running ServerThread."""
    running: list[ServerThread] = []

    def start(app: Any, *, lifespan: str = "off") -> ServerThread:
        server = ServerThread(app, lifespan=lifespan).__enter__()
        running.append(server)
        return server

    yield start
    for server in running:
        server.__exit__()
