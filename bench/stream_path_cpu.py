"""CPU of the streaming path's parts, in process: event-stream decoding, relay() and SigV4 signing.

    PYTHONPATH=src taskset -c 1 .venv/bin/python bench/stream_path_cpu.py

- decode: `quarry.bedrock._eventstream.decode_events` over 20,000 Converse frames (as the emulator encodes them),
  fed 1, 64 and 400 frames per read (a paced stream, a batched one, a busy gateway's big reads); µs per event.
- decode_stream: 5,000 short Converse streams (messageStart, three contentBlockDelta, contentBlockStop, messageStop,
  metadata: five distinct header blocks), each through its own `decode_events`, one frame per read; µs per stream.
  This is the per-stream setup a burst of new streams pays, header parsing included.
- relay: `quarry.api._sse.relay` over 50,000 one-line events arriving one per loop wake-up (paced) or 64 per
  wake-up (batched), consumed as a response does; µs per event.
- sign: `SigV4Signer.sign` of a Converse request, µs per signature.

Best of `--rounds` (default 5) each, on uvloop when installed; one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import orjson

from quarry.api._sse import relay
from quarry.bedrock import SigV4Signer, StaticCredentials
from quarry.bedrock._eventstream import decode_events
from quarry.emulator._eventstream import event_frame

try:
    import uvloop

    run: Callable[[Coroutine[Any, Any, Any]], Any] = uvloop.run
except ImportError:  # the figures are then asyncio's
    run = asyncio.run


def _frames(count: int) -> list[bytes]:
    delta = {"contentBlockIndex": 0, "delta": {"text": " word"}}
    return [event_frame("messageStart", b'{"role":"assistant"}')] + [
        event_frame("contentBlockDelta", orjson.dumps(delta)) for _ in range(count)
    ]


async def _decode(frames: list[bytes], per_read: int) -> int:
    async def reads() -> AsyncIterator[bytes]:
        for start in range(0, len(frames), per_read):
            yield b"".join(frames[start : start + per_read])

    return sum([1 async for _ in decode_events(reads())])


def _short_stream() -> list[bytes]:
    delta = orjson.dumps({"contentBlockIndex": 0, "delta": {"text": " word"}})
    usage = {"usage": {"inputTokens": 3, "outputTokens": 3, "totalTokens": 6}, "metrics": {"latencyMs": 9}}
    return [
        event_frame("messageStart", b'{"role":"assistant"}'),
        *(event_frame("contentBlockDelta", delta) for _ in range(3)),
        event_frame("contentBlockStop", b'{"contentBlockIndex":0}'),
        event_frame("messageStop", b'{"stopReason":"end_turn"}'),
        event_frame("metadata", orjson.dumps(usage)),
    ]


async def _decode_streams(frames: list[bytes], streams: int) -> int:
    for _ in range(streams):  # each stream a fresh decoder, as each request gets
        await _decode(frames, 1)
    return streams


async def _relay(count: int, per_wakeup: int) -> int:
    loop = asyncio.get_running_loop()

    async def events() -> AsyncIterator[int]:
        for number in range(count):
            if number % per_wakeup == 0:  # a wake-up, as a socket read gives
                woken = loop.create_future()
                loop.call_soon(woken.set_result, None)
                await woken
            yield number

    pieces = relay(events(), lambda _: [b"data: x\n\n"], finish=lambda: b"", render_error=lambda _: b"", keepalive_s=15)
    async for _ in pieces:  # the pieces are batches: the figure is per event
        pass
    return count


async def _sign(count: int) -> int:
    signer = SigV4Signer(StaticCredentials("AKIDTEST", "secret"), "us-east-1")
    url = "http://127.0.0.1:8181/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    body = b'{"messages":[{"role":"user","content":[{"text":"hello there"}]}],"inferenceConfig":{"maxTokens":64}}'
    headers = {"Host": "127.0.0.1:8181", "Content-Type": "application/json", "Accept": "application/json"}
    for _ in range(count):
        await signer.sign("POST", url, dict(headers), body)
    return count


def _best_us(rounds: int, work: Callable[[], Coroutine[Any, Any, int]]) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        done = run(work())
        best = min(best, (time.process_time() - started) / done * 1e6)
    return round(best, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    frames = _frames(20_000)
    result: dict[str, float] = {}
    for per_read in (1, 64, 400):
        result[f"decode_us_per_event_{per_read}_per_read"] = _best_us(
            args.rounds, lambda n=per_read: _decode(frames, n)
        )
    short = _short_stream()
    result["decode_us_per_stream_7_events"] = _best_us(args.rounds, lambda: _decode_streams(short, 5_000))
    for per_wakeup in (1, 64):
        result[f"relay_us_per_event_{per_wakeup}_per_wakeup"] = _best_us(
            args.rounds, lambda n=per_wakeup: _relay(50_000, n)
        )
    result["sign_us_per_request"] = _best_us(args.rounds, lambda: _sign(5_000))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
