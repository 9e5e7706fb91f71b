"""An API that does not answer or cannot be reached: a person waits `ui.api_timeout_s` once (no silent retry
doubling it), and is told what happened, for how long they waited, and what to do."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx2
import openai

from quarry.ui._client import ToolboxClient
from quarry.ui._errors import readable_error


def failure(url: str, timeout_s: float) -> BaseException:
    """What `ToolboxClient.models()` raises against `url`, run on a loop of its own (Playwright may hold this one)."""

    async def call() -> BaseException:
        async with httpx2.AsyncClient(trust_env=False) as http:
            try:
                await ToolboxClient(url, "", "b:test", http, timeout_s).models()
            except openai.APIError as exc:
                return exc
        raise AssertionError("the call succeeded")

    with ThreadPoolExecutor(1) as worker:
        return worker.submit(asyncio.run, call()).result()


def pending_connections(server: socket.socket) -> int:
    server.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_a_silent_api_is_waited_for_once_and_said_so() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts connections; nobody answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        exc = failure(url, 1.0)
        assert isinstance(exc, openai.APITimeoutError)
        assert pending_connections(silent) == 1  # the SDK's retry would double a person's wait
    said = readable_error(exc)
    assert f"The Quarry API at {url} did not answer within 1 s" in said
    assert "ui.api_timeout_s" in said
    assert "quarry doctor" in said


def test_an_unreachable_api_says_where_and_what_to_do() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    exc = failure(url, 5.0)  # nothing listens there any more: refused at once
    assert isinstance(exc, openai.APIConnectionError)
    said = readable_error(exc)
    assert f"Cannot reach the Quarry API at {url}" in said
    assert "quarry serve" in said
    assert "quarry doctor" in said
