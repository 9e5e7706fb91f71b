"""The Bedrock client's HTTP/1.1 pool against small real asyncio servers scripted for the edge cases: a kept-alive
connection the server closed, chunked and read-until-close answers, `Connection: close`, a slow first byte, a stream
that stalls, an abandoned stream, the connection limit, TLS with SNI; and the runtime's errors for them."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from quarry.bedrock import BedrockRuntime, SigV4Signer, StaticCredentials
from quarry.bedrock._pool import HttpPool
from quarry.bedrock._wire import ConnectionFailed, HttpError, Response
from quarry.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from quarry.settings import BedrockSettings

OK = b'{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn"}'
HEADERS = {"Host": "bedrock", "Content-Type": "application/json"}


class Server:
    """A loopback server running `script(server, reader, writer, number)` for each connection (numbered from 1),
    counting connections, requests and connections open at once."""

    def __init__(self, script: Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]):
        self.script = script
        self.connections = 0
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request head)
        self.open = 0
        self.most_open = 0
        self.closed_by_client = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await self.script(self, reader, writer, self.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def request(self, reader: asyncio.StreamReader, number: int) -> bytes | None:
        """Read one request (head and Content-Length body); None once the client has closed the connection."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.closed_by_client.set()
            return None
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        body = await reader.readexactly(length)
        self.requests.append((number, head))
        return body


@asynccontextmanager
async def serving(script: Any, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[Server, str]]:
    server = Server(script)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield server, f"{'https' if tls else 'http'}://{'localhost' if tls else '127.0.0.1'}:{port}"
    finally:
        listener.close()
        await listener.wait_closed()


def answer(body: bytes = OK, *extra: str) -> bytes:
    head = "".join(f"{line}\r\n" for line in ("HTTP/1.1 200 OK", "Content-Type: application/json", *extra))
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def keep_answering(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    while await server.request(reader, n) is not None:
        writer.write(answer())
        await writer.drain()


@asynccontextmanager
async def opened_pool(
    url: str, *, limit: int = 10, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[HttpPool]:
    pool = HttpPool(url, limit=limit, connect_timeout_s=5, ssl_context=ssl_context)
    try:
        yield pool
    finally:
        await pool.aclose()


@asynccontextmanager
async def opened_runtime(url: str, **settings: Any) -> AsyncIterator[BedrockRuntime]:
    signer = SigV4Signer(StaticCredentials("AKIDTEST", "secret"), "us-east-1")
    runtime = BedrockRuntime(endpoint_url=url, region="us-east-1", signer=signer, settings=BedrockSettings(**settings))
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def _post(pool: HttpPool, timeout_s: float = 5.0) -> bytes:
    async with await pool.post("/model/m/converse", HEADERS, b"{}", timeout_s) as response:
        assert response.status == 200
        return await response.read()


async def test_a_kept_alive_connection_is_reused() -> None:
    async with serving(keep_answering) as (server, url), opened_pool(url) as pool:
        assert [await _post(pool) for _ in range(3)] == [OK] * 3
    assert server.connections == 1
    assert [number for number, _ in server.requests] == [1, 1, 1]
    assert b"Content-Length: 2\r\n" in server.requests[0][1]


async def test_a_kept_alive_connection_closed_by_the_server_is_retried_once_on_a_fresh_one() -> None:
    async def closes_the_second_request_unanswered(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
    ) -> None:
        await server.request(reader, n)
        writer.write(answer())
        if n == 1:  # the server drops the connection as the next request arrives, answering nothing
            await server.request(reader, n)
            return
        await keep_answering(server, reader, writer, n)

    async with serving(closes_the_second_request_unanswered) as (server, url), opened_pool(url) as pool:
        assert await _post(pool) == OK
        assert await _post(pool) == OK
    assert server.connections == 2
    assert [number for number, _ in server.requests] == [1, 1, 2]


async def test_a_fresh_connection_closed_before_any_answer_is_not_retried() -> None:
    async def hangs_up(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await server.request(reader, n)

    async with serving(hangs_up) as (server, url):
        async with opened_pool(url) as pool:
            with pytest.raises(ConnectionFailed):
                await _post(pool)
        async with opened_runtime(url, max_attempts=1) as runtime:
            with pytest.raises(UpstreamUnavailable):
                await runtime.converse("m", {"messages": []})
    assert server.connections == 2  # one each: the pool's and the runtime's


async def test_chunked_and_read_until_close_answers() -> None:
    async def chunked_then_until_close(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
    ) -> None:
        await server.request(reader, n)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Amzn-RequestId: r1\r\n\r\n")
        for piece in (OK[:10], OK[10:40], OK[40:]):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        await server.request(reader, n)  # kept alive after a chunked answer
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + OK[:30])
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(OK[30:])  # then the close ends the body

    async with serving(chunked_then_until_close) as (server, url), opened_pool(url) as pool:
        async with await pool.post("/x", HEADERS, b"{}", 5) as response:
            assert response.headers["x-amzn-requestid"] == "r1"  # any case
            assert list(response.headers) == ["Transfer-Encoding", "X-Amzn-RequestId"]  # names as sent
            assert await response.read() == OK
        assert await _post(pool) == OK
        assert await _post(pool) == OK  # the server closed the last one: a new connection
    assert server.connections == 2


async def test_an_answer_saying_connection_close_is_not_pooled() -> None:
    async def closing(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while await server.request(reader, n) is not None:
            writer.write(answer(OK, "Connection: close"))

    async with serving(closing) as (server, url), opened_pool(url) as pool:
        assert [await _post(pool) for _ in range(2)] == [OK, OK]
    assert server.connections == 2


async def test_a_slow_first_byte_and_a_stalled_stream_time_out() -> None:
    async def slow(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await server.request(reader, n)
        if n == 1:
            await asyncio.sleep(5)  # no answer within the first-byte timeout
            return
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await asyncio.sleep(5)  # then silence, past the idle timeout

    async with serving(slow) as (server, url), opened_pool(url) as pool:
        with pytest.raises(TimeoutError):
            await pool.post("/x", HEADERS, b"{}", 0.2)
        response = await pool.post("/x", HEADERS, b"{}", 5)
        pieces: list[bytes] = []
        with pytest.raises(TimeoutError):
            await _drain(response, pieces, idle_s=0.2)
        response.close()
        assert pieces == [b"first"]
    assert server.connections == 2  # the timed-out connection was not used again


async def _drain(response: Response, pieces: list[bytes], *, idle_s: float) -> None:
    async for piece in response.chunks(idle_s):
        pieces.append(piece)


async def test_the_runtime_reports_a_stall_as_a_timeout() -> None:
    async def silent(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await server.request(reader, n)
        await asyncio.sleep(5)

    async with (
        serving(silent) as (_, url),
        opened_runtime(url, max_attempts=1, first_byte_timeout_s=0.2) as runtime,
    ):
        with pytest.raises(UpstreamTimeout):
            await runtime.converse("m", {"messages": []})


async def test_an_abandoned_stream_closes_its_connection() -> None:
    async def streams(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while await server.request(reader, n) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()

    async with serving(streams) as (server, url), opened_pool(url) as pool:
        response = await pool.post("/x", HEADERS, b"{}", 5)
        assert await response.read_some() == b"first"
        response.release()  # unfinished: closed, not pooled
        await asyncio.wait_for(server.closed_by_client.wait(), 5)
        response = await pool.post("/x", HEADERS, b"{}", 5)
        response.close()
    assert server.connections == 2


async def test_a_body_cut_short_is_an_error() -> None:
    async def cuts(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await server.request(reader, n)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()

    async with serving(cuts) as (_, url):
        async with opened_pool(url) as pool:
            response = await pool.post("/x", HEADERS, b"{}", 5)
            with pytest.raises(HttpError):
                await response.read()
            response.release()
        async with opened_runtime(url, max_attempts=1) as runtime:
            with pytest.raises(UpstreamError):
                await runtime.converse("m", {"messages": []})


async def test_no_more_connections_than_the_limit() -> None:
    gate, two_in = asyncio.Event(), asyncio.Event()

    async def held(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while await server.request(reader, n) is not None:
            if len(server.requests) >= 2:
                two_in.set()
            await gate.wait()
            writer.write(answer())

    async with serving(held) as (server, url), opened_pool(url, limit=2) as pool:
        calls = asyncio.gather(*(_post(pool) for _ in range(6)))
        await asyncio.wait_for(two_in.wait(), 5)
        await asyncio.sleep(0.05)  # time for a third connection to be opened, were the limit not kept
        gate.set()
        assert await calls == [OK] * 6
    assert server.connections == 2
    assert server.most_open == 2


async def test_a_header_holding_a_line_break_is_refused() -> None:
    async with serving(keep_answering) as (server, url), opened_pool(url) as pool:
        with pytest.raises(ValueError, match="line break"):
            await pool.post("/x", {**HEADERS, "anthropic-beta": "a\r\nX-Injected: 1"}, b"{}", 5)
    assert server.requests == []


async def test_nothing_listening_is_a_connection_failure() -> None:
    async with serving(keep_answering) as (_, url):
        pass  # closed: its port now refuses
    async with opened_pool(url) as pool:
        with pytest.raises(ConnectionFailed):
            await _post(pool)


def _self_signed(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for localhost, and a client context trusting only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


async def test_tls_with_sni_and_a_checked_certificate(tmp_path: Path) -> None:
    server_tls, client_tls = _self_signed(tmp_path)
    names: list[str | None] = []

    def note_name(_socket: Any, name: str | None, _context: Any) -> None:
        names.append(name)

    server_tls.sni_callback = note_name

    async with serving(keep_answering, tls=server_tls) as (server, url):
        async with opened_pool(url, ssl_context=client_tls) as pool:
            assert [await _post(pool) for _ in range(2)] == [OK, OK]
        async with opened_pool(url) as untrusting:  # the default context: system CAs only
            with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
                await _post(untrusting)
    assert names[0] == "localhost"
    assert len(server.requests) == 2
