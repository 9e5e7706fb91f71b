"""CPU of Quarry's SSE response wrapper per stream, in process: what each of 1,000 streams opened at once pays
around its body before the first byte, with nothing else on the path (no sockets, no app, no upstream).

    PYTHONPATH=src python bench/sse_response_cpu.py            # this tree
    PYTHONPATH=/other/checkout/src python bench/sse_response_cpu.py   # another, for a side-by-side

Each response streams one chunk to an ASGI `send` that drops it, with a `receive` that never reports a disconnect
(as for a stream in flight). Prints the best and the median of `--rounds` rounds of `--streams` responses, in µs of
process CPU per response, as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

from quarry.api._sse import SSEResponse

SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}}  # uvicorn's


async def measure(streams: int, rounds: int) -> list[float]:
    never = asyncio.Event()

    async def receive() -> dict[str, object]:
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: object) -> None:
        pass

    async def body() -> AsyncIterator[bytes]:
        yield b"data: x\n\n"

    async def one() -> None:
        await SSEResponse(body(), AsyncExitStack())(SCOPE, receive, send)

    for _ in range(streams // 2):  # warm-up
        await one()
    per: list[float] = []
    for _ in range(rounds):
        gc.collect()
        start = time.process_time()
        for _ in range(streams):
            await one()
        per.append((time.process_time() - start) / streams * 1e6)
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=5000, help="responses per round (default: 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default: 5)")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        loop_name, per = "asyncio", asyncio.run(measure(args.streams, args.rounds))
    else:
        loop_name, per = "uvloop", uvloop.run(measure(args.streams, args.rounds))
    result = {"best_us": round(min(per), 1), "median_us": round(statistics.median(per), 1), "loop": loop_name}
    print(json.dumps(result | {"streams": args.streams, "rounds": args.rounds}))


if __name__ == "__main__":
    main()
