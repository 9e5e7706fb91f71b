"""Slow and numerous clients over real sockets: head and body timeouts, keep-alive, the bound on open connections."""

from __future__ import annotations

import asyncio
import resource
import socket
import sys
import time
from typing import Any

import httpx
import pytest

from tests.server.conftest import GUARD_S, Connect, GuardedServer, read_until_closed

Scope = dict[str, Any]


async def echo(scope: Scope, receive: Any, send: Any) -> None:
    """Answers with the length of the body it read."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


async def slow_stream(scope: Scope, receive: Any, send: Any) -> None:
    """Streams ten chunks 0.25 s apart: 2.5 s, longer than every timeout these tests configure."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for index in range(10):
        await asyncio.sleep(0.25)
        await send({"type": "http.response.body", "body": b"chunk %d\n" % index, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


SHORT = {"http_header_timeout_s": 0.5, "http_body_timeout_s": 0.5, "http_keep_alive_s": 0.5}


def test_half_a_request_head_is_cut_with_a_408_while_others_are_served(connect: Connect) -> None:
    with GuardedServer(echo, **SHORT) as server:
        slow = connect(server.url)
        slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
        # A normal client is served, again and again, while the slow one hangs.
        with httpx.Client(timeout=GUARD_S) as client:
            for _ in range(3):
                assert client.post(f"{server.url}/", content=b"abc").text == "3"
        answer = read_until_closed(slow)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"QUARRY_HTTP_HEADER_TIMEOUT_S" in answer


def test_head_trickled_a_byte_at_a_time_is_cut_though_bytes_keep_coming(connect: Connect) -> None:
    # Each byte within the timeout, the whole head not: the clock runs from the connection's start.
    with GuardedServer(echo, http_header_timeout_s=1.0) as server:
        slow = connect(server.url)
        started = time.monotonic()
        head = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 400
        sent = 0
        try:
            while sent < len(head):
                slow.sendall(head[sent : sent + 1])
                sent += 1
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < len(head), "the server let a 20 s head trickle in"
        assert time.monotonic() - started < GUARD_S
        assert read_until_closed(slow).startswith(b"HTTP/1.1 408 ")


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(connect: Connect) -> None:
    with GuardedServer(echo, **SHORT) as server:
        idle = connect(server.url)
        assert read_until_closed(idle) == b""


def test_a_stalled_body_is_cut_with_a_408(connect: Connect) -> None:
    with GuardedServer(echo, **SHORT) as server:
        slow = connect(server.url)
        slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        answer = read_until_closed(slow)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"QUARRY_HTTP_BODY_TIMEOUT_S" in answer


def test_a_slow_but_steady_body_is_read_whole(connect: Connect) -> None:
    # The body timeout bounds silences, not the body's total time: 8 chunks 0.2 s apart take 1.6 s > 0.5 s.
    with GuardedServer(echo, **SHORT) as server:
        sock = connect(server.url)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\nConnection: close\r\n\r\n")
        for _ in range(8):
            time.sleep(0.2)
            sock.sendall(b"0123456789")
        answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(b"\r\n\r\n80")


def test_idle_kept_alive_connection_closes_and_a_new_head_there_is_timed(connect: Connect) -> None:
    with GuardedServer(echo, http_header_timeout_s=0.5, http_keep_alive_s=0.5) as server:
        sock = connect(server.url)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        assert read_until_closed(sock) == b""  # closed by timeout_keep_alive, silently

        sock = connect(server.url)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET / HTTP/1.1\r\nHo")  # the next request starts, and stalls
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_a_stream_longer_than_every_timeout_is_not_cut() -> None:
    with GuardedServer(slow_stream, **SHORT) as server, httpx.Client(timeout=GUARD_S) as client:
        with client.stream("GET", f"{server.url}/") as response:
            lines = list(response.iter_lines())
        assert lines == [f"chunk {index}" for index in range(10)]


def test_past_the_connection_bound_new_connections_get_a_503_and_service_recovers(connect: Connect) -> None:
    with GuardedServer(echo, max_connections=4, http_header_timeout_s=3 * GUARD_S) as server:
        held = [connect(server.url) for _ in range(4)]
        deadline = time.monotonic() + GUARD_S
        while server.open_connections() < 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        refused = connect(server.url)
        answer = read_until_closed(refused)
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"QUARRY_MAX_CONNECTIONS" in answer

        held[0].close()
        held = held[1:]
        while server.open_connections() > 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with httpx.Client(timeout=GUARD_S) as client:
            assert client.post(f"{server.url}/", content=b"ab").text == "2"


def test_the_bound_holds_against_a_flood(connect: Connect) -> None:
    # 40 connections at a bound of 10: 10 stay open on the server side; the rest get a 503 or a reset.
    with GuardedServer(echo, max_connections=10, http_header_timeout_s=3 * GUARD_S) as server:
        flood: list[socket.socket] = []
        for _ in range(40):
            flood.append(connect(server.url))
        # Sockets are accepted in order: once the last 30 are answered, the first 10 are in, and they stay.
        answers = [read_until_closed(sock) for sock in flood[10:]]
        assert all(answer == b"" or answer.startswith(b"HTTP/1.1 503 ") for answer in answers)  # "" after a reset
        deadline = time.monotonic() + GUARD_S
        while server.open_connections() != 10:  # the last refused one may still be closing
            assert time.monotonic() < deadline, server.open_connections()
            time.sleep(0.01)
        assert any(answer.startswith(b"HTTP/1.1 503 ") for answer in answers)


def test_the_default_bound_admits_a_thousand_open_connections(connect: Connect) -> None:
    # The performance target is 1,000 concurrent streams on one process: the default must let them all in.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2100:  # client and server ends both live in this process
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    try:
        with GuardedServer(echo) as server:
            held = [connect(server.url) for _ in range(1000)]
            for sock in held:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            for sock in held:
                assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            assert server.open_connections() == 1000
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _data_segments_received(sock: socket.socket) -> int:
    """Linux's count of TCP segments with data this socket has received (`tcpi_data_segs_in`, struct tcp_info at
    byte 152, since Linux 4.6). On loopback one write of a few kilobytes travels as one segment."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int.from_bytes(info[152:156], sys.byteorder)


def _answered_with_head_alone(sock: socket.socket, request: bytes) -> None:
    """Sends `request`; the first read of its answer is a 200's head and nothing more."""
    sock.sendall(request)
    head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert head.endswith(b"\r\n\r\n")


def _read_response(sock: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts segments with Linux's TCP_INFO")
def test_a_whole_response_leaves_in_one_write(connect: Connect) -> None:
    with GuardedServer(echo) as server:
        sock = connect(server.url)
        for request in range(1, 4):  # on a kept-alive connection, each response in one write
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            response = _read_response(sock)
            assert response.startswith(b"HTTP/1.1 200 OK\r\n")
            assert response.endswith(b"\r\n\r\n3")
            assert _data_segments_received(sock) == request


def test_a_head_whose_body_waits_is_sent_at_once(connect: Connect) -> None:
    # slow_stream sends its head, then its first chunk 0.25 s later: the head must not wait for it.
    with GuardedServer(slow_stream) as server:
        sock = connect(server.url)
        _answered_with_head_alone(sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # chunk 0 comes 0.25 s later
        rest = b""
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(65536)
        assert [b"chunk %d\n" % index in rest for index in range(10)] == [True] * 10


def test_expect_100_continue_is_answered_before_the_body_is_sent(connect: Connect) -> None:
    with GuardedServer(echo) as server:
        sock = connect(server.url)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        response = _read_response(sock)
        assert response.startswith(b"HTTP/1.1 200 OK\r\n")
        assert response.endswith(b"\r\n\r\n5")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts segments with Linux's TCP_INFO")
def test_a_head_request_is_answered_with_its_head(connect: Connect) -> None:
    # A HEAD response has no body write to take its head along: the head goes at the loop's next turn.
    with GuardedServer(echo) as server:
        sock = connect(server.url)
        _answered_with_head_alone(sock, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _data_segments_received(sock) == 1
