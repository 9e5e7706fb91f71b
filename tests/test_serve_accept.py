"""The servers of `quarry serve`, `quarry emulator` and `quarry ui` accept queued connections in batches, on uvloop
(as uvicorn runs them) where libuv alone accepts one per turn of the loop."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter

import uvicorn
import uvloop
from starlette.types import Receive, Scope, Send

from quarry.cli._accept import Server
from quarry.cli._listen import bind

CLIENTS = 50


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"hi"})


def _read_to_end(client: socket.socket) -> bytes:
    answer = b""
    while chunk := client.recv(1000):
        answer += chunk
    return answer


def _serve_queued(server_class: type[uvicorn.Server]) -> tuple[Counter[int], bytes, bool]:
    """Connect CLIENTS sockets while the server's loop is busy; return how many connections it opened in each
    turn of its loop after that, one client's answer, and whether a connection is refused once it has stopped."""

    async def main() -> tuple[Counter[int], bytes, bool]:
        loop = asyncio.get_running_loop()
        sock = bind("127.0.0.1", 0, "serve")
        port = sock.getsockname()[1]
        server = server_class(uvicorn.Config(_hello, lifespan="off", log_level="warning"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110  # uvicorn's server has no event for it
            await asyncio.sleep(0.01)
        turn, opened_in, watched = 0, Counter[int](), loop.create_future()

        def tick() -> None:
            nonlocal turn
            turn += 1
            opened_in[turn] = len(server.server_state.connections)
            if turn < 20:
                loop.call_soon(tick)
            else:
                watched.set_result(None)

        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CLIENTS)]  # queued: loop is here
        time.sleep(0.05)  # noqa: ASYNC251  # blocks the loop on purpose: the kernel queues the connections
        loop.call_soon(tick)
        await watched
        clients[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await loop.run_in_executor(None, _read_to_end, clients[0])
        for client in clients:
            client.close()
        server.should_exit = True
        await serving
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            refused = True
        else:
            refused = False
        per_turn = Counter({t: n - opened_in.get(t - 1, 0) for t, n in opened_in.items()})
        return per_turn, answer, refused

    return uvloop.run(main())


def test_connections_queued_while_the_loop_was_busy_are_taken_in_one_turn_and_served() -> None:
    per_turn, answer, refused = _serve_queued(Server)
    assert sum(per_turn[turn] for turn in (1, 2, 3)) == CLIENTS  # uvloop alone: 3 in 3 turns
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"hi")
    assert refused  # stopped: the listening socket no longer accepts


def test_uvicorns_own_server_on_uvloop_takes_one_per_turn() -> None:
    # What the batches replace: if libuv ever accepts more per turn again, `Server` may be dropped.
    per_turn, answer, _ = _serve_queued(uvicorn.Server)
    assert max(per_turn.values()) == 1
    assert answer.startswith(b"HTTP/1.1 200")
