"""Load client for the Quarry Bedrock emulator: Converse requests/s and ConverseStream events/s.

A raw asyncio client (on uvloop when it is installed) so that one client core outruns one server core: every
connection writes a pre-built HTTP/1.1 keep-alive request, parses the answer itself (Content-Length or chunked
body) and, for ConverseStream, counts the AWS event-stream frames by walking their prelude lengths.

    python bench/emulator_load.py converse --url http://127.0.0.1:8181 --concurrency 32 --duration 10
    python bench/emulator_load.py stream --url http://127.0.0.1:8181 --concurrency 4 --words 2000

Connections are opened and driven for `--warmup` seconds before the `--duration` measurement window; only what
completes inside the window is counted. Prints one JSON line; exits 1 if any response failed its checks
(status 200 and `stopReason` in the body; for streams, event frames only, ending in messageStop then metadata)
or if nothing completed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlsplit

DEFAULT_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
# The emulator accepts any SigV4-shaped Authorization header; real signing would only measure the client.
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0"
)
# Event-stream header `:message-type` = "event" (name length, name, type 7 = string, 2-byte value length, value).
EVENT_MARK = b"\x0d:message-type\x07\x00\x05event"
PRELUDE = struct.Struct(">II")

HEAD, LENGTH, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS = range(6)


class ProtocolError(Exception):
    """A response that is malformed or fails the benchmark's checks."""


@dataclass
class Stats:
    """Counters of one run; only completions inside [start, end) count."""

    start: float
    end: float
    completed: int = 0
    events: int = 0
    latencies: list[float] = field(default_factory=list)
    first_event: list[float] = field(default_factory=list)
    stream_events: int = 0  # frames of the streams counted in `completed`
    errors: int = 0
    first_error: str | None = None
    reconnects: int = 0

    def error(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message[:500]


class Connection(asyncio.Protocol):
    """One keep-alive connection sending `request` back to back until the window ends."""

    def __init__(self, request: bytes, streaming: bool, stats: Stats, closed: asyncio.Future[None]) -> None:
        self.request = request
        self.streaming = streaming
        self.stats = stats
        self.closed = closed
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.pos = 0
        self.state = HEAD
        self.remaining = 0
        self.keep_alive = True
        self.sent_at = 0.0
        self.first_frame_at = 0.0
        self.frame_count = 0
        self.body = bytearray()
        self.frames = bytearray()
        self.last_headers = b""
        self.prev_headers = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self._send(time.perf_counter())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            self._parse(time.perf_counter())
        except (ProtocolError, ValueError) as exc:
            self.stats.error(f"{type(exc).__name__}: {exc}")
            self.close()

    def _send(self, now: float) -> None:
        assert self.transport is not None
        if now >= self.stats.end or not self.keep_alive:
            self.transport.close()
            return
        self.state = HEAD
        self.sent_at = now
        self.first_frame_at = 0.0
        self.frame_count = 0
        self.body.clear()
        self.frames.clear()
        self.last_headers = self.prev_headers = b""
        self.transport.write(self.request)

    def _parse(self, now: float) -> None:
        buf = self.buf
        while not self.transport or not self.transport.is_closing():
            state = self.state
            avail = len(buf) - self.pos
            if state in (CHUNK_DATA, LENGTH):
                take = min(self.remaining, avail)
                if take:
                    self._body(buf[self.pos : self.pos + take], now)
                    self.pos += take
                    self.remaining -= take
                if self.remaining:
                    break
                if state == LENGTH:
                    self._done(now)
                else:
                    self.state = CHUNK_END
            elif state == CHUNK_SIZE:
                eol = buf.find(b"\r\n", self.pos)
                if eol < 0:
                    break
                self.remaining = int(buf[self.pos : eol].split(b";", 1)[0], 16)
                self.pos = eol + 2
                self.state = CHUNK_DATA if self.remaining else TRAILERS
            elif state == CHUNK_END:
                if avail < 2:
                    break
                if buf[self.pos : self.pos + 2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                self.pos += 2
                self.state = CHUNK_SIZE
            elif state == TRAILERS:
                if buf.startswith(b"\r\n", self.pos):
                    self.pos += 2
                else:
                    end = buf.find(b"\r\n\r\n", self.pos)
                    if end < 0:
                        break
                    self.pos = end + 4
                self._done(now)
            else:
                end = buf.find(b"\r\n\r\n", self.pos)
                if end < 0:
                    break
                self._head(bytes(buf[self.pos : end]))
                self.pos = end + 4
        if self.pos:
            del buf[: self.pos]
            self.pos = 0

    def _head(self, head: bytes) -> None:
        status_line, _, rest = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or parts[1] != b"200":
            raise ProtocolError(f"status {status_line.decode(errors='replace')}")
        length = None
        chunked = False
        for line in rest.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.endswith(b"chunked")
            elif name == b"connection":
                self.keep_alive = value != b"close"
        if chunked:
            self.state = CHUNK_SIZE
        elif length is not None:
            self.state = LENGTH
            self.remaining = length
        else:
            raise ProtocolError("response has neither Content-Length nor chunked encoding")

    def _body(self, data: bytearray, now: float) -> None:
        if not self.streaming:
            self.body += data
            return
        frames = self.frames
        frames += data
        off = 0
        size = len(frames)
        count = 0
        while size - off >= 12:
            total, headers_len = PRELUDE.unpack_from(frames, off)
            if total < 16 + headers_len:
                raise ProtocolError(f"bad event-stream prelude: total={total} headers={headers_len}")
            if size - off < total:
                break
            headers = bytes(frames[off + 12 : off + 12 + headers_len])
            if EVENT_MARK not in headers:
                payload = bytes(frames[off + 12 + headers_len : off + total - 4])
                raise ProtocolError(f"non-event frame: headers={headers!r} payload={payload[:200]!r}")
            self.prev_headers, self.last_headers = self.last_headers, headers
            off += total
            count += 1
        if off:
            del frames[:off]
        if count:
            self.frame_count += count
            if not self.first_frame_at:
                self.first_frame_at = now
            if self.stats.start <= now < self.stats.end:
                self.stats.events += count

    def _done(self, now: float) -> None:
        if self.streaming:
            if self.frames:
                raise ProtocolError(f"stream ended inside a frame ({len(self.frames)} bytes left)")
            if b"messageStop" not in self.prev_headers or b"metadata" not in self.last_headers:
                raise ProtocolError(f"stream does not end with messageStop, metadata: {self.last_headers!r}")
        elif b'"stopReason"' not in self.body:
            raise ProtocolError(f"no stopReason in body: {bytes(self.body[:200])!r}")
        stats = self.stats
        if stats.start <= now < stats.end:
            stats.completed += 1
            stats.latencies.append(now - self.sent_at)
            if self.streaming:
                stats.first_event.append(self.first_frame_at - self.sent_at)
                stats.stream_events += self.frame_count
        self._send(now)


def build_request(host: str, port: int, mode: str, model: str, words: int, max_tokens: int) -> bytes:
    """The raw HTTP/1.1 request every connection repeats."""
    if mode == "stream":
        text = f"[[emulator: words={words}]] Tell me a long story."
        action, accept = "converse-stream", "application/vnd.amazon.eventstream"
    else:
        text, action, accept = "hello there", "converse", "application/json"
    body = json.dumps(
        {"messages": [{"role": "user", "content": [{"text": text}]}], "inferenceConfig": {"maxTokens": max_tokens}}
    ).encode()
    head = (
        f"POST /model/{quote(model, safe='')}/{action} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: {AUTHORIZATION}\r\n"
        "Content-Type: application/json\r\n"
        f"Accept: {accept}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


def percentile_ms(samples: list[float], q: float) -> float | None:
    """Nearest-rank percentile of `samples` (seconds), in milliseconds."""
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


ConnectionT = TypeVar("ConnectionT", bound=Connection)
Result = TypeVar("Result")


async def keep_connected(
    connect: Callable[[asyncio.Future[None]], ConnectionT],
    host: str,
    port: int,
    stats: Stats,
    stopping: asyncio.Event,
    live: set[ConnectionT],
    *,
    one_shot: bool = False,
) -> None:
    """One load worker: a keep-alive connection, opened again whenever the server closes it, until `stopping`."""
    loop = asyncio.get_running_loop()
    first = True
    while not stopping.is_set():
        closed: asyncio.Future[None] = loop.create_future()
        conn = connect(closed)
        try:
            await loop.create_connection(lambda: conn, host, port)  # noqa: B023  # awaited before conn is rebound
        except OSError as exc:
            stats.error(f"connect: {exc}")
            return
        if not first:
            stats.reconnects += 1
        first = False
        live.add(conn)
        await closed
        live.discard(conn)
        if one_shot:
            return


async def stop_workers(
    workers: list[asyncio.Task[None]], live: set[ConnectionT], stopping: asyncio.Event, stats: Stats
) -> None:
    """End a measurement window: stop the workers and drop what is still in flight."""
    stopping.set()
    for conn in list(live):
        conn.close()  # abandon responses still in flight: they would complete outside the window
    done, stuck = await asyncio.wait(workers, timeout=5.0)
    for task in stuck:
        task.cancel()
        stats.error("a connection did not close within 5 s of the end of the window")
    for task in done:
        task.result()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        raise SystemExit(f"--url must be http://host:port, got {args.url!r}")
    host, port = url.hostname, url.port or 80
    request = build_request(host, port, args.mode, args.model, args.words, args.max_tokens)
    streaming = args.mode == "stream"
    begin = time.perf_counter()
    cpu_begin = time.process_time()
    stats = Stats(start=begin + args.warmup, end=begin + args.warmup + args.duration)
    live: set[Connection] = set()
    stopping = asyncio.Event()

    def connect(closed: asyncio.Future[None]) -> Connection:
        return Connection(request, streaming, stats, closed)

    workers = [
        asyncio.create_task(keep_connected(connect, host, port, stats, stopping, live)) for _ in range(args.concurrency)
    ]
    await asyncio.sleep(max(0.0, stats.end - time.perf_counter()))
    await stop_workers(workers, live, stopping, stats)
    # Share of one core the client used: close to 1.0 would mean the client, not the server, is the bottleneck.
    client_cpu = (time.process_time() - cpu_begin) / (time.perf_counter() - begin)

    result: dict[str, Any] = {
        "mode": args.mode,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
    }
    if streaming:
        result |= {
            "events": stats.events,
            "events_per_s": round(stats.events / args.duration, 1),
            "streams": stats.completed,
            "streams_per_s": round(stats.completed / args.duration, 2),
            "words": args.words,
            "events_per_stream": round(stats.stream_events / stats.completed, 1) if stats.completed else None,
            "stream_ms": {"p50": percentile_ms(stats.latencies, 0.5), "p99": percentile_ms(stats.latencies, 0.99)},
            "first_event_ms": {
                "p50": percentile_ms(stats.first_event, 0.5),
                "p99": percentile_ms(stats.first_event, 0.99),
            },
        }
    else:
        result |= {
            "requests": stats.completed,
            "requests_per_s": round(stats.completed / args.duration, 1),
            "latency_ms": {"p50": percentile_ms(stats.latencies, 0.5), "p99": percentile_ms(stats.latencies, 0.99)},
        }
    result |= {
        "errors": stats.errors,
        "first_error": stats.first_error,
        "reconnects": stats.reconnects,
        "client_cpu": round(client_cpu, 2),
    }
    return result


def event_loop_runner() -> tuple[str, Callable[[Coroutine[Any, Any, Result]], Result]]:
    """uvloop when installed (as uvicorn uses it), else asyncio; and its name for the report."""
    try:
        import uvloop
    except ImportError:
        return "asyncio", asyncio.run
    return "uvloop", uvloop.run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["converse", "stream"])
    parser.add_argument("--url", default="http://127.0.0.1:8181", help="emulator base URL (default: %(default)s)")
    parser.add_argument("--concurrency", "-c", type=int, default=32, help="keep-alive connections (default: 32)")
    parser.add_argument("--duration", "-d", type=float, default=10.0, help="measured seconds (default: 10)")
    parser.add_argument("--warmup", "-w", type=float, default=2.0, help="unmeasured seconds first (default: 2)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="modelId (default: %(default)s)")
    parser.add_argument("--words", type=int, default=2000, help="stream mode: words per reply (default: 2000)")
    parser.add_argument("--max-tokens", type=int, help="inferenceConfig.maxTokens (default: 64, stream: 4096)")
    args = parser.parse_args()
    if args.concurrency < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--concurrency must be >= 1, --duration > 0 and --warmup >= 0")
    if args.max_tokens is None:
        args.max_tokens = 4096 if args.mode == "stream" else 64
    loop_name, runner = event_loop_runner()
    result = runner(run(args))
    result["client"] = "emulator_load.py"
    result["loop"] = loop_name
    result["url"] = args.url
    print(json.dumps(result), flush=True)
    return 1 if result["errors"] or not (result.get("requests") or result.get("streams")) else 0


if __name__ == "__main__":
    sys.exit(main())
