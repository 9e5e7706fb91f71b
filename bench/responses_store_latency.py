"""Latency and CPU of storing a response (`store: true`, the Responses API's default), in-process: the real
`ResponseStore.save` on the embedded SQLite database in a fresh data dir, one save after another (concurrency 1, as
the latency target's client), so that the figure is the store's and not the machine's other tenants' HTTP traffic.
The body is the size of the emulator's answer to the latency benchmark's request.

    PYTHONPATH=src taskset -c 0 .venv/bin/python bench/responses_store_latency.py [--saves 20000]

Prints one JSON line: the save's wall time in microseconds (p50, p99, p99.9, max), how many saves took over 1 and
3 ms, and this process's CPU (`time.process_time`, every thread) per save."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from quarry.api.responses._store import ResponseStore, Stored
from quarry.store import open_database

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def _stored() -> Stored:
    """What the latency benchmark's request stores: its input message and the emulator's one-message answer."""
    text = {"type": "output_text", "text": 'You said: "hello there"', "annotations": [], "logprobs": []}
    body: dict[str, Any] = {
        "id": f"resp_{uuid.uuid4().hex}{uuid.uuid4().hex[:16]}", "object": "response", "created_at": int(time.time()),
        "status": "completed", "background": False, "error": None, "incomplete_details": None, "instructions": None,
        "max_output_tokens": 64, "max_tool_calls": None, "model": MODEL,
        "output": [
            {"id": f"msg_{uuid.uuid4().hex}{uuid.uuid4().hex[:16]}", "type": "message", "status": "completed",
             "role": "assistant", "content": [text]},
        ],
        "parallel_tool_calls": True, "previous_response_id": None, "conversation": None, "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None}, "safety_identifier": None, "service_tier": "default",
        "store": True, "temperature": None, "text": {"format": {"type": "text"}, "verbosity": None},
        "tool_choice": "auto", "tools": [], "top_logprobs": None, "top_p": None, "truncation": "disabled",
        "usage": {"input_tokens": 6, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 7,
                  "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 13},
        "user": None, "metadata": {},
    }  # fmt: skip
    item = {"id": f"msg_{uuid.uuid4().hex}", "type": "message", "role": "user", "content": "hello there"}
    return Stored(body, [item])


async def _measure(saves: int, warmup: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="quarry-store-bench-") as data_dir:
        database = await open_database(None, Path(data_dir))
        try:
            store = ResponseStore(database)
            for _ in range(warmup):
                await store.save("key_bench", _stored(), 30 * 86400)
            bodies = [_stored() for _ in range(saves)]
            took: list[float] = []
            cpu = time.process_time()
            for stored in bodies:
                start = time.perf_counter()
                await store.save("key_bench", stored, 30 * 86400)
                took.append(time.perf_counter() - start)
            cpu = time.process_time() - cpu
        finally:
            await database.close()
    took.sort()

    def at(share: float) -> float:
        return round(took[min(int(len(took) * share), len(took) - 1)] * 1e6)

    return {
        "saves": saves,
        "save_us": {"p50": at(0.5), "p99": at(0.99), "p99.9": at(0.999), "max": round(took[-1] * 1e6)},
        "over_1ms": sum(t > 0.001 for t in took),
        "over_3ms": sum(t > 0.003 for t in took),
        "cpu_us_per_save": round(cpu / saves * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saves", type=int, default=20_000, help="saves measured (default: 20000)")
    parser.add_argument("--warmup", type=int, default=1_000, help="saves before, not measured (default: 1000)")
    args = parser.parse_args()
    try:
        import uvloop  # the server's loop when installed

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    print(orjson.dumps(runner(_measure(args.saves, args.warmup))).decode(), flush=True)


if __name__ == "__main__":
    main()
