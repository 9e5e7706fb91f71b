"""Shared fixtures and helpers: real servers on real loopback sockets, the environments they run in, test data."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn


def png(width: int = 1, height: int = 1) -> bytes:
    """A real PNG image (one grey pixel row per line)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def offline_environment(folder: Path) -> dict[str, str]:
    """This process's environment without AWS credentials, instance metadata or Quarry settings, as on a laptop
    without AWS set up; Quarry's data goes in `folder`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "QUARRY_"))}
    return env | {
        "AWS_CONFIG_FILE": str(folder / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "QUARRY_DATA_DIR": str(folder / "data"),
    }


def no_aws_identity(patch: pytest.MonkeyPatch, folder: Path) -> None:
    """No AWS credentials, profile, config or instance metadata: only what a test gives a client."""
    empty = folder / "none"
    empty.write_text("")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        patch.delenv(name, raising=False)
    patch.setenv("AWS_CONFIG_FILE", str(empty))
    patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    patch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def bedrock_with_key(endpoint: str, key: str, patch: pytest.MonkeyPatch, folder: Path) -> Any:
    """boto3's bedrock-runtime on `endpoint` (Quarry) holding only a Quarry key (AWS_BEARER_TOKEN_BEDROCK), retries
    off. The caller closes it."""
    import boto3
    from botocore.config import Config

    no_aws_identity(patch, folder)
    patch.setenv("AWS_BEARER_TOKEN_BEDROCK", key)
    config = Config(retries={"total_max_attempts": 1})
    return boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=endpoint, config=config)


def set_aws_environment(patch: pytest.MonkeyPatch, folder: Path, endpoints: dict[str, str]) -> None:
    """AWS settings as a user sets them to point at an endpoint (the emulator): static test credentials, a region,
    no profile or config files, and `AWS_ENDPOINT_URL_<SERVICE>` for each of `endpoints`."""
    empty = folder / "none"
    empty.write_text("")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIDQUARRYTEST",
        "AWS_SECRET_ACCESS_KEY": "quarry-test-secret",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        **{f"AWS_ENDPOINT_URL_{service}": url for service, url in endpoints.items()},
    }.items():
        patch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_DEFAULT_REGION"):
        patch.delenv(name, raising=False)


class _QuietServer(uvicorn.Server):
    """uvicorn's Server, woken to stop rather than polling for it. uvicorn's own main loop ticks ten times a second;
    a session keeps a hundred-odd test servers running, and their ticks together took the GIL from the tests a
    thousand times a second (the suite's system time was most of its CPU time)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()  # before should_exit is read: stop() sees the loop or exits it
        counter = 0
        while not await self.on_tick(counter):
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=5)
            except TimeoutError:
                counter += 10  # on_tick refreshes the Date header on multiples of ten

    def stop(self) -> None:
        self.should_exit = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)


class ServerThread:
    """An ASGI app served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: Any, *, lifespan: str = "off") -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False)
        self._server = _QuietServer(config)
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
        self._server.stop()
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
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PostgreSQL with pgvector, from `pgserver`, for the whole session."""
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


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


@contextmanager
def standalone_toolbox(api_url: str) -> Iterator[str]:
    """`quarry ui --api-url API_URL` in a process of its own, on a free port; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "quarry", "ui", "--api-url", api_url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        match = re.search(r"Quarry toolbox (http://127\.0\.0\.1:\d+)/ui/", process.stdout.readline())
        assert match, "quarry ui did not print its address"
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
