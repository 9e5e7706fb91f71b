"""Load client for gateways in front of Bedrock: latency, requests/s, streamed chunks/s and many slow streams.

One client for everything the gateway benchmarks compare, so that they pay the same client costs:
`--api bedrock` speaks Converse / ConverseStream (to the emulator itself, the direct baseline, or to a gateway's
Bedrock routes), `--api openai` speaks `POST /v1/chat/completions` to a gateway (Quarry, LiteLLM,
bedrock-access-gateway with `--prefix /api`), `--api anthropic` `POST /v1/messages` and `--api responses`
`POST /v1/responses` (these two non-streamed only). It reuses `emulator_load.py`'s raw asyncio HTTP/1.1 keep-alive
connection (on uvloop when installed) and replaces only what is done with the body. Authorization: a Bearer key
(`--api-key`), except `--api bedrock`, which sends a SigV4-shaped header the emulator accepts unless `--auth bearer`.

    python bench/gateway_load.py converse --api openai --url http://127.0.0.1:8080 --concurrency 1
    python bench/gateway_load.py stream --api openai --url http://127.0.0.1:8080 --concurrency 64 --words 500
    python bench/gateway_load.py slow --api openai --url http://127.0.0.1:8080 --concurrency 1000 --words 200
    python bench/gateway_load.py check --api openai --url http://127.0.0.1:8080

Modes:
- `converse`: C keep-alive connections send short non-streamed requests back to back for `--warmup` then
  `--duration` seconds; requests/s and latency (p50, p99, mean) of what completes inside the window.
- `stream`: the same with streamed replies of `--words` words; chunks/s counts SSE `data:` chunks (`[DONE]`
  excluded) for openai and event-stream frames for bedrock, plus streams/s and time to first token.
- `slow`: C streams at once, one per connection, each sent as soon as its connection is up (or spread over
  `--ramp` seconds); waits for all of them to end. Reports errors, how many requests were in flight at the same
  time (`max_open`) and how many streams were flowing at the same time (`max_streaming`: first content token
  received, end not yet), time to first token (first content delta, not the role chunk) and, with `--pid`, the
  server's CPU share and RSS, and `first_token_loop_cpu_ms`: how much CPU each watched process's main thread (its
  event loop) had used since the start when each stream's first token arrived, which other tenants of the
  machine do not inflate as they do the wall-clock time.
- `check`: one non-streamed and one streamed request, printed; exits 1 unless both pass the checks below.

Every answer is checked: status 200; openai: `choices[0].message.content` non-empty and a `finish_reason`, streams
with a non-empty content delta, a `finish_reason`, no `error` chunk, ending in `data: [DONE]`; anthropic: a text
block and a `stop_reason`; responses: `status` completed and an `output_text` part; bedrock: non-empty text and
`stopReason`, streams of event frames only with a `contentBlockDelta`, ending in messageStop then metadata.
`--pid NAME=PID` (repeatable) adds each process's CPU share during the measured window and its resident memory
(current and peak: VmHWM of the process, and the peak of the sampled RSS of the process and its children).
Prints one JSON line; exits 1 if any answer failed its checks or nothing completed (no request, stream or chunk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

# A sibling script, importable because Python puts the script's own directory first on sys.path.
from emulator_load import (
    AUTHORIZATION,
    DEFAULT_MODEL,
    EVENT_MARK,
    PRELUDE,
    Connection,
    ProtocolError,
    Stats,
    event_loop_runner,
    keep_connected,
    percentile_ms,
    stop_workers,
)

SHORT_PROMPT = "hello there"
STREAM_PROMPT = "[[emulator: words={words}]] Tell me a long story."
SSE_EVENT_END = re.compile(rb"\r?\n\r?\n")
FINISH_REASON = re.compile(rb'"finish_reason":\s*"')
CONTENT_BLOCK_DELTA = b"contentBlockDelta"
APIS = ("openai", "anthropic", "responses", "bedrock")
STREAMING_APIS = ("openai", "bedrock")


@dataclass
class RunStats(Stats):
    """`emulator_load.Stats` plus what the gateway benchmark needs."""

    first_token: list[float] = field(default_factory=list)
    open_now: int = 0
    max_open: int = 0  # requests sent and not yet answered in full
    streaming_now: int = 0
    max_streaming: int = 0  # streams between their first content token and their end
    one_shot: bool = False
    # slow mode with --pid: each watched process's main-thread CPU clock, read at every stream's first token
    loop_clocks: dict[str, Path] = field(default_factory=dict)
    loop_cpu_start: dict[str, int] = field(default_factory=dict)
    first_token_loop_cpu: dict[str, list[float]] = field(default_factory=dict)

    def mark_loop_cpu(self) -> None:
        """Read the start of each watched process's main-thread CPU clock (its event loop's, in an asyncio server)."""
        self.loop_cpu_start = {name: _thread_cpu_ns(path) for name, path in self.loop_clocks.items()}
        self.first_token_loop_cpu = {name: [] for name in self.loop_clocks}

    def time_first_token(self) -> None:
        for name, path in self.loop_clocks.items():
            spent = _thread_cpu_ns(path) - self.loop_cpu_start[name]
            self.first_token_loop_cpu[name].append(spent / 1e9)


def _thread_cpu_ns(schedstat: Path) -> int:
    """A thread's time on a CPU in ns (the first field of /proc/PID/schedstat, the scheduler's exact sum)."""
    return int(schedstat.read_bytes().split(None, 1)[0])


class GatewayConnection(Connection):
    """`emulator_load.Connection` that checks OpenAI-style answers too and times the first content token."""

    stats: RunStats

    def __init__(
        self, request: bytes, api: str, streaming: bool, stats: RunStats, closed: asyncio.Future[None]
    ) -> None:
        super().__init__(request, streaming, stats, closed)
        self.api = api
        self.sse = bytearray()
        self.first_token_at = 0.0
        self.done_seen = False
        self.finish_seen = False
        self.in_flight = False
        self.streaming_counted = False
        self.answered = False
        self.failed = False  # an answer failed its checks: already counted, closing is not a second error
        self.raw: bytearray | None = None  # `check` mode keeps the whole answer to show it

    def data_received(self, data: bytes) -> None:
        if self.raw is not None:
            self.raw += data
        errors = self.stats.errors
        super().data_received(data)  # counts an answer that fails its checks, then closes the connection
        self.failed |= self.stats.errors > errors

    def _send(self, now: float) -> None:
        if self.stats.one_shot and self.answered:
            self.close()
            return
        self.sse.clear()
        self.first_token_at = 0.0
        self.done_seen = self.finish_seen = False
        super()._send(now)
        if self.transport is not None and not self.transport.is_closing():
            self.in_flight = True
            self.stats.open_now += 1
            self.stats.max_open = max(self.stats.max_open, self.stats.open_now)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_streaming()
        if self.in_flight:
            self.in_flight = False
            self.stats.open_now -= 1
            if self.stats.one_shot and not self.failed:  # no window ends a slow stream: losing one is an error
                self.stats.error(f"connection lost before the answer ended: {exc or 'closed by the server'}")
        super().connection_lost(exc)

    def _body(self, data: bytearray, now: float) -> None:
        if not self.streaming:
            self.body += data
        elif self.api == "openai":
            self._sse(data, now)
        else:
            self._frames(data, now)

    def _frames(self, data: bytearray, now: float) -> None:
        frames = self.frames
        frames += data
        off, size, count = 0, len(frames), 0
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
            if not self.first_token_at and CONTENT_BLOCK_DELTA in headers:
                self.first_token_at = now
                self.stats.time_first_token()
            self.prev_headers, self.last_headers = self.last_headers, headers
            off += total
            count += 1
        if off:
            del frames[:off]
        self._count(count, now)

    def _sse(self, data: bytearray, now: float) -> None:
        self.sse += data
        events = SSE_EVENT_END.split(self.sse)
        rest = events.pop()
        count = 0
        for event in events:
            for line in event.splitlines():
                if not line.startswith(b"data:"):
                    continue  # comments (keep-alive pings), `event:` and `id:` lines
                payload = line[5:].strip()
                if self.done_seen:
                    raise ProtocolError(f"data after [DONE]: {payload[:200]!r}")
                if payload == b"[DONE]":
                    self.done_seen = True
                    continue
                count += 1
                if b'"error"' in payload and "error" in json.loads(payload):
                    raise ProtocolError(f"error chunk: {payload[:300]!r}")
                if not self.first_token_at and _delta_text(json.loads(payload)):
                    self.first_token_at = now
                    self.stats.time_first_token()
                if not self.finish_seen and FINISH_REASON.search(payload):
                    self.finish_seen = True
        self.sse[:] = rest
        self._count(count, now)

    def _stop_streaming(self) -> None:
        if self.streaming_counted:
            self.streaming_counted = False
            self.stats.streaming_now -= 1

    def _count(self, count: int, now: float) -> None:
        if not count:
            return
        if self.first_token_at and not self.streaming_counted:
            self.streaming_counted = True
            self.stats.streaming_now += 1
            self.stats.max_streaming = max(self.stats.max_streaming, self.stats.streaming_now)
        self.frame_count += count
        if not self.first_frame_at:
            self.first_frame_at = now
        if self.stats.start <= now < self.stats.end:
            self.stats.events += count

    def _done(self, now: float) -> None:
        self._stop_streaming()
        self._check()
        self.answered = True
        if self.in_flight:
            self.in_flight = False
            self.stats.open_now -= 1
        stats = self.stats
        if stats.start <= now < stats.end:
            stats.completed += 1
            stats.latencies.append(now - self.sent_at)
            if self.streaming:
                stats.first_event.append(self.first_frame_at - self.sent_at)
                stats.first_token.append(self.first_token_at - self.sent_at)
                stats.stream_events += self.frame_count
        self._send(now)

    def _check(self) -> None:
        if self.streaming:
            if not self.first_token_at:
                raise ProtocolError("stream without a content delta")
            if self.api == "openai":
                if self.sse.strip():
                    raise ProtocolError(f"stream ended inside an SSE event: {bytes(self.sse[:200])!r}")
                if not self.done_seen or not self.finish_seen:
                    raise ProtocolError(f"stream without finish_reason or [DONE] ({self.frame_count} chunks)")
            else:
                if self.frames:
                    raise ProtocolError(f"stream ended inside a frame ({len(self.frames)} bytes left)")
                if b"messageStop" not in self.prev_headers or b"metadata" not in self.last_headers:
                    raise ProtocolError(f"stream does not end with messageStop, metadata: {self.last_headers!r}")
            return
        body = json.loads(self.body)
        try:
            if self.api == "openai":
                choice = (body.get("choices") or [{}])[0]
                text, stop = (choice.get("message") or {}).get("content"), choice.get("finish_reason")
            elif self.api == "anthropic":
                text = next((b.get("text") for b in body.get("content") or [] if b.get("type") == "text"), None)
                stop = body.get("stop_reason")
            elif self.api == "responses":
                parts = [p for item in body.get("output") or [] for p in item.get("content") or []]
                text = next((p.get("text") for p in parts if p.get("type") == "output_text"), None)
                stop = body.get("status") == "completed"
            else:
                content = (((body.get("output") or {}).get("message") or {}).get("content")) or [{}]
                text, stop = content[0].get("text"), body.get("stopReason")
        except (AttributeError, IndexError, KeyError, TypeError):
            text = stop = None
        if not text or not stop:
            raise ProtocolError(f"answer without content or stop reason: {bytes(self.body[:300])!r}")


def _delta_text(chunk: Any) -> str:
    try:
        return str(chunk["choices"][0]["delta"].get("content") or "")
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def build_request(args: argparse.Namespace, host: str, port: int, streaming: bool) -> bytes:
    """The raw HTTP/1.1 request every connection repeats."""
    text = STREAM_PROMPT.format(words=args.words) if streaming else SHORT_PROMPT
    auth, accept = f"Bearer {args.api_key}", "text/event-stream"
    if args.api == "openai":
        payload: dict[str, Any] = {
            "model": args.model,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": args.max_tokens,
            "stream": streaming,
        }
        path = "/v1/chat/completions"
    elif args.api == "anthropic":
        payload = {"model": args.model, "messages": [{"role": "user", "content": text}], "max_tokens": args.max_tokens}
        path = "/v1/messages"
    elif args.api == "responses":
        payload = {"model": args.model, "input": text, "max_output_tokens": args.max_tokens}
        path = "/v1/responses"
    else:
        payload = {"messages": [{"role": "user", "content": [{"text": text}]}]}
        payload["inferenceConfig"] = {"maxTokens": args.max_tokens}
        action = "converse-stream" if streaming else "converse"
        path = f"/model/{quote(args.model, safe='')}/{action}"
        accept = "application/vnd.amazon.eventstream"
        if args.auth != "bearer":
            auth = AUTHORIZATION
    path = args.prefix + path
    if not streaming:
        accept = "application/json"
    body = json.dumps(payload).encode()
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: {auth}\r\n"
        "Content-Type: application/json\r\n"
        f"Accept: {accept}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


class ProcessWatch:
    """CPU share and memory of the processes named with `--pid` (psutil, imported only when used)."""

    def __init__(self, pids: dict[str, int]) -> None:
        import psutil  # type: ignore[import-untyped]  # no stubs in .venv (types-psutil)

        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.cpu_start: dict[str, float] = {}
        self.cpu_end: dict[str, float] = {}
        self.rss_peak: dict[str, int] = dict.fromkeys(pids, 0)
        self.family: dict[str, list[Any]] = {}  # each named process and its children, as last found

    def _cpu(self, name: str) -> float:
        proc = self.procs[name]
        total = sum(sum(p.cpu_times()[:2]) for p in [proc, *proc.children(recursive=True)])
        return float(total)

    def mark_start(self) -> None:
        self.cpu_start = {name: self._cpu(name) for name in self.procs}

    def mark_end(self) -> None:
        self.cpu_end = {name: self._cpu(name) for name in self.procs}

    def sample(self, *, rescan: bool = True) -> None:
        """Add the processes' RSS (with their children) to the peaks. Finding the children walks every process in
        /proc (~1.3 ms each, in this client's event loop, where it delays the request in flight), so the periodic
        sampler does it only once a second and reads the known processes' RSS (~15 µs each) in between: walking it
        every 100 ms added ~2 ms to the gateways' p99 at concurrency 1."""
        import psutil

        for name, proc in self.procs.items():
            try:
                if rescan or name not in self.family:
                    self.family[name] = [proc, *proc.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in self.family[name])
            except psutil.NoSuchProcess:  # a child gone since the last scan: count again from a fresh one
                try:
                    self.family[name] = [proc, *proc.children(recursive=True)]
                    rss = sum(p.memory_info().rss for p in self.family[name])
                except psutil.NoSuchProcess:
                    continue
            self.rss_peak[name] = max(self.rss_peak[name], rss)

    async def sampler(self, interval: float) -> None:
        every = max(1, round(1.0 / interval))  # rescan for children once a second
        count = 0
        while True:
            self.sample(rescan=count % every == 0)
            count += 1
            await asyncio.sleep(interval)

    def report(self, seconds: float) -> dict[str, Any]:
        self.sample()
        out: dict[str, Any] = {}
        for name, proc in self.procs.items():
            status = Path(f"/proc/{proc.pid}/status").read_text()
            kib = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.+)$", status, re.M)}
            out[name] = {
                "cpu": round((self.cpu_end[name] - self.cpu_start[name]) / seconds, 2) if self.cpu_end else None,
                "rss_mb": round(kib["VmRSS"] / 1024, 1),
                "vmhwm_mb": round(kib["VmHWM"] / 1024, 1),
                "rss_peak_sampled_mb": round(self.rss_peak[name] / 2**20, 1),
            }
        return out


def ms(samples: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile_ms(samples, 0.5),
        "p99": percentile_ms(samples, 0.99),
        "mean": round(sum(samples) / len(samples) * 1000, 3) if samples else None,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        raise SystemExit(f"--url must be http://host:port, got {args.url!r}")
    host, port = url.hostname, url.port or 80
    streaming = args.mode in ("stream", "slow")
    request = build_request(args, host, port, streaming)
    watch = ProcessWatch(dict(args.pid)) if args.pid else None
    begin = time.perf_counter()
    cpu_begin = time.process_time()
    one_shot = args.mode == "slow"
    if one_shot:
        stats = RunStats(start=begin, end=float("inf"), one_shot=True)
    else:
        stats = RunStats(start=begin + args.warmup, end=begin + args.warmup + args.duration)
    live: set[GatewayConnection] = set()
    stopping = asyncio.Event()

    def connect(closed: asyncio.Future[None]) -> GatewayConnection:
        return GatewayConnection(request, args.api, streaming, stats, closed)

    async def worker(delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await keep_connected(connect, host, port, stats, stopping, live, one_shot=one_shot)

    sampler = asyncio.create_task(watch.sampler(0.1)) if watch else None
    ramp = args.ramp if one_shot else 0.0
    if one_shot and args.pid:
        clocks = {name: Path(f"/proc/{pid}/schedstat") for name, pid in args.pid}
        stats.loop_clocks = {name: path for name, path in clocks.items() if path.exists()}  # a kernel may lack it
        stats.mark_loop_cpu()
    workers = [asyncio.create_task(worker(ramp * i / args.concurrency)) for i in range(args.concurrency)]
    if one_shot:
        if watch:
            watch.mark_start()
        _, pending = await asyncio.wait(workers, timeout=args.timeout)
        if pending:
            stats.error(f"{len(pending)} streams still open after --timeout {args.timeout:g} s")
            for conn in list(live):
                conn.failed = True  # counted once, above
                conn.close()
            await asyncio.wait(pending, timeout=5.0)
        stats.end = time.perf_counter()
        if watch:
            watch.mark_end()
    else:
        await asyncio.sleep(max(0.0, stats.start - time.perf_counter()))
        if watch:
            watch.mark_start()
        await asyncio.sleep(max(0.0, stats.end - time.perf_counter()))
        if watch:
            watch.mark_end()
        await stop_workers(workers, live, stopping, stats)
    if sampler:
        sampler.cancel()
    elapsed = time.perf_counter() - begin
    client_cpu = (time.process_time() - cpu_begin) / elapsed
    window = stats.end - stats.start

    result: dict[str, Any] = {"mode": args.mode, "api": args.api, "concurrency": args.concurrency}
    if one_shot:
        result |= {
            "words": args.words,
            "ramp_s": args.ramp,
            "streams": stats.completed,
            "max_open": stats.max_open,
            "max_streaming": stats.max_streaming,
            "wall_s": round(window, 2),
            "chunks_per_stream": round(stats.stream_events / stats.completed, 1) if stats.completed else None,
            "first_token_ms": ms(stats.first_token),
            "first_chunk_ms": ms(stats.first_event),
            "stream_ms": ms(stats.latencies),
        }
        result["first_token_ms"]["max"] = percentile_ms(stats.first_token, 1.0)
        # How much of each watched process's event-loop CPU went by before a stream's first token: unlike the
        # wall-clock figure above, it does not grow when other tenants of the machine take the core.
        result["first_token_loop_cpu_ms"] = {
            name: ms(spent) | {"max": percentile_ms(spent, 1.0)} for name, spent in stats.first_token_loop_cpu.items()
        }
    else:
        result |= {"duration_s": args.duration, "warmup_s": args.warmup}
        if streaming:
            result |= {
                "words": args.words,
                "chunks": stats.events,
                "chunks_per_s": round(stats.events / window, 1),
                "streams": stats.completed,
                "streams_per_s": round(stats.completed / window, 2),
                "chunks_per_stream": round(stats.stream_events / stats.completed, 1) if stats.completed else None,
                "first_token_ms": ms(stats.first_token),
                "stream_ms": ms(stats.latencies),
            }
        else:
            result |= {
                "requests": stats.completed,
                "requests_per_s": round(stats.completed / window, 1),
                "latency_ms": ms(stats.latencies),
            }
    result |= {
        "errors": stats.errors,
        "first_error": stats.first_error,
        "reconnects": stats.reconnects,
        "client_cpu": round(client_cpu, 2),
    }
    if watch:
        result["processes"] = watch.report(window)
    return result


async def check(args: argparse.Namespace) -> dict[str, Any]:
    """One non-streamed and one streamed request through the benchmark's own connection and checks, shown."""
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    loop = asyncio.get_running_loop()
    out: dict[str, Any] = {"mode": "check", "api": args.api, "errors": 0, "first_error": None}
    for streaming in (False, True) if args.api in STREAMING_APIS else (False,):
        stats = RunStats(start=0.0, end=float("inf"), one_shot=True)
        closed: asyncio.Future[None] = loop.create_future()
        conn = GatewayConnection(build_request(args, host, port, streaming), args.api, streaming, stats, closed)
        conn.raw = bytearray()
        await loop.create_connection(lambda conn=conn: conn, host, port)
        try:
            await asyncio.wait_for(closed, timeout=args.timeout)
        except TimeoutError:
            conn.failed = True
            conn.close()
            stats.error(f"no complete answer within --timeout {args.timeout:g} s")
        label = "stream" if streaming else "converse"
        if stats.errors or not stats.completed:
            out["errors"] += stats.errors or 1
            out["first_error"] = out["first_error"] or f"{label}: {stats.first_error or 'no answer'}"
        out[label] = conn.raw.decode(errors="replace")[:3000]
        if streaming:
            out["chunks_per_stream"] = conn.frame_count
    return out


def pid_arg(text: str) -> tuple[str, int]:
    name, _, pid = text.partition("=")
    if not name or not pid.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=PID, got {text!r}")
    return name, int(pid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["converse", "stream", "slow", "check"])
    parser.add_argument("--api", choices=APIS, default="openai", help="dialect (default: openai)")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL (default: %(default)s)")
    parser.add_argument("--prefix", default="", help="path before /v1/… or /model/… (bedrock-access-gateway: /api)")
    parser.add_argument("--api-key", default=os.environ.get("BENCH_API_KEY", "bench-key"), help="bearer key")
    parser.add_argument(
        "--auth",
        choices=["auto", "bearer"],
        default="auto",
        help="auto: bedrock sends a SigV4-shaped header (the emulator's), the others the bearer key",
    )
    parser.add_argument("--concurrency", "-c", type=int, default=1, help="connections (default: 1)")
    parser.add_argument("--duration", "-d", type=float, default=10.0, help="measured seconds (default: 10)")
    parser.add_argument("--warmup", "-w", type=float, default=2.0, help="unmeasured seconds first (default: 2)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model (default: %(default)s)")
    parser.add_argument("--words", type=int, default=500, help="words per streamed reply (default: 500)")
    parser.add_argument("--max-tokens", type=int, help="max_tokens / maxTokens (default: converse 64, else 4096)")
    parser.add_argument("--ramp", type=float, default=0.0, help="slow: seconds over which streams start (default: 0)")
    parser.add_argument("--timeout", type=float, default=600.0, help="slow: seconds to wait for all streams")
    parser.add_argument("--pid", type=pid_arg, action="append", help="NAME=PID of a process to watch (repeatable)")
    args = parser.parse_args()
    if args.concurrency < 1 or args.duration <= 0 or args.warmup < 0 or args.ramp < 0:
        parser.error("--concurrency must be >= 1, --duration > 0, --warmup and --ramp >= 0")
    if args.mode in ("stream", "slow") and args.api not in STREAMING_APIS:
        parser.error(f"--api {args.api} is non-streamed only here; streams: {', '.join(STREAMING_APIS)}")
    if args.max_tokens is None:
        args.max_tokens = 64 if args.mode == "converse" else 4096
    loop_name, runner = event_loop_runner()
    result = runner(check(args) if args.mode == "check" else run(args))
    result |= {"client": "gateway_load.py", "loop": loop_name, "url": args.url + args.prefix}
    print(json.dumps(result), flush=True)
    # A slow gateway may finish no long stream inside the window: streamed chunks are then what counts.
    completed = args.mode == "check" or result.get("requests") or result.get("streams") or result.get("chunks")
    return 1 if result["errors"] or not completed else 0


if __name__ == "__main__":
    sys.exit(main())
