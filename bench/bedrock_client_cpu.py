"""CPU time a Bedrock client spends per Converse request and per ConverseStream event, against the emulator.

Compares the two ways Quarry can talk to Bedrock (docs: "pick by measured CPU per request and per stream event"):
aiobotocore's `bedrock-runtime` client, and Quarry's own `quarry.bedrock.BedrockRuntime` (pooled aiohttp,
botocore's SigV4 signer and event-stream decoder). One process, one request at a time, the emulator in another
process (ideally on another core): `time.process_time()` of this process is then the client's own cost, user plus
system time, socket reads and writes included. `--inflight 32` keeps that many Converse requests in flight at once
(a gateway's load) instead of one.

    python bench/bedrock_client_cpu.py --url http://127.0.0.1:8181

Each client runs `--rounds` rounds, alternating with the other so that both see the same machine; a round is
`--requests` Converse requests (short reply) then `--streams` ConverseStream answers of `--words` words (about 1.3
events per word), after a warm-up. The table shows the best round of each figure (the least disturbed one: the
machine is shared and noise only ever adds). "per event" divides the streams' CPU by their events; "net" first
subtracts one Converse request's CPU per stream (the request, signing and response headers of the stream).

Every answer is checked (text present and a stop reason; streams with a contentBlockDelta and ending in messageStop
then metadata). Prints a Markdown table then one JSON line per client; exits 1 if an answer failed its checks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Protocol

# A sibling script, importable because Python puts the script's own directory first on sys.path.
from emulator_load import event_loop_runner

DEFAULT_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
SHORT_PROMPT = "hello there"
STREAM_PROMPT = "[[emulator: words={words}]] Tell me a long story."


class Client(Protocol):
    """What the benchmark needs of a Bedrock client: both calls take Converse's request body."""

    name: str

    async def converse(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def converse_stream(self, body: dict[str, Any]) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]: ...

    async def aclose(self) -> None: ...


class AiobotocoreClient:
    name = "aiobotocore"

    def __init__(self, model: str) -> None:
        self.model = model
        self._stack: Any = None
        self._client: Any = None

    async def open(self, url: str) -> None:
        from contextlib import AsyncExitStack

        from aiobotocore.session import AioSession
        from botocore.config import Config

        self._stack = AsyncExitStack()
        self._client = await self._stack.enter_async_context(
            AioSession().create_client(
                "bedrock-runtime",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"max_attempts": 1, "mode": "standard"}),
            )
        )

    async def converse(self, body: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = await self._client.converse(modelId=self.model, **body)
        return response

    @asynccontextmanager
    async def converse_stream(self, body: dict[str, Any]) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        response = await self._client.converse_stream(modelId=self.model, **body)
        stream = response["stream"]
        try:
            yield stream
        finally:
            stream.close()

    async def aclose(self) -> None:
        await self._stack.aclose()


class QuarryClient:
    name = "quarry.bedrock"

    def __init__(self, model: str) -> None:
        self.model = model
        self._runtime: Any = None

    async def open(self, url: str) -> None:
        from quarry.bedrock import BedrockRuntime

        self._runtime = await BedrockRuntime.create(region="us-east-1", endpoint_url=url)

    async def converse(self, body: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = await self._runtime.converse(self.model, body)
        return response

    def converse_stream(self, body: dict[str, Any]) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        stream: AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]] = self._runtime.converse_stream(
            self.model, body
        )
        return stream

    async def aclose(self) -> None:
        await self._runtime.aclose()


@dataclass
class Figures:
    """One client's rounds."""

    name: str
    version: str
    request_cpu_us: list[float] = field(default_factory=list)
    event_cpu_us: list[float] = field(default_factory=list)
    event_net_cpu_us: list[float] = field(default_factory=list)
    stream_cpu_us: list[float] = field(default_factory=list)
    converse_wall_ms: list[float] = field(default_factory=list)
    events_per_stream: float = 0.0
    errors: int = 0
    first_error: str | None = None

    def error(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message[:500]


def check_answer(answer: dict[str, Any]) -> None:
    content = answer.get("output", {}).get("message", {}).get("content") or [{}]
    if not content[0].get("text") or not answer.get("stopReason"):
        raise ValueError(f"answer without text or stopReason: {str(answer)[:300]}")


async def one_stream(client: Client, body: dict[str, Any]) -> int:
    """Read one stream to its end; returns its event count."""
    count = 0
    kinds: list[str] = []
    async with client.converse_stream(body) as events:
        async for event in events:
            count += 1
            kinds.append(next(iter(event)))
    if "contentBlockDelta" not in kinds or kinds[-2:] != ["messageStop", "metadata"]:
        raise ValueError(f"stream of {count} events does not look right: ... {kinds[-3:]}")
    return count


async def measure_round(client: Client, figures: Figures, args: argparse.Namespace) -> None:
    short = {"messages": [{"role": "user", "content": [{"text": SHORT_PROMPT}]}], "inferenceConfig": {"maxTokens": 64}}
    long = {
        "messages": [{"role": "user", "content": [{"text": STREAM_PROMPT.format(words=args.words)}]}],
        "inferenceConfig": {"maxTokens": 4096},
    }
    walls: list[float] = []

    async def requests(count: int) -> None:
        for _ in range(count):
            start = time.perf_counter()
            try:
                check_answer(await client.converse(short))
            except Exception as exc:  # every failure is counted and reported, none should happen
                figures.error(f"converse: {type(exc).__name__}: {exc}")
            walls.append(time.perf_counter() - start)

    cpu = time.process_time()
    each, extra = divmod(args.requests, args.inflight)
    await asyncio.gather(*(requests(each + (worker < extra)) for worker in range(args.inflight)))
    request_cpu = (time.process_time() - cpu) / args.requests

    events = 0
    cpu = time.process_time()
    for _ in range(args.streams):
        try:
            events += await one_stream(client, long)
        except Exception as exc:  # as above
            figures.error(f"converse_stream: {type(exc).__name__}: {exc}")
    stream_cpu = time.process_time() - cpu

    walls.sort()
    figures.request_cpu_us.append(request_cpu * 1e6)
    figures.converse_wall_ms.append(walls[len(walls) // 2] * 1e3)
    if events:
        figures.events_per_stream = events / args.streams
        figures.stream_cpu_us.append(stream_cpu / args.streams * 1e6)
        figures.event_cpu_us.append(stream_cpu / events * 1e6)
        figures.event_net_cpu_us.append((stream_cpu - args.streams * request_cpu) / events * 1e6)


async def warm_up(client: Client, args: argparse.Namespace) -> None:
    short = {"messages": [{"role": "user", "content": [{"text": SHORT_PROMPT}]}]}
    long = {"messages": [{"role": "user", "content": [{"text": STREAM_PROMPT.format(words=args.words)}]}]}
    for _ in range(args.warmup):
        await client.converse(short)
    for _ in range(max(1, args.warmup // 20)):
        await one_stream(client, long)


async def run(args: argparse.Namespace) -> list[Figures]:
    # The emulator checks that a SigV4 header is there, not what it signs: any credentials do. Set them here so
    # that both clients sign with SigV4 whatever the caller's shell holds (profiles, Bedrock API keys).
    os.environ |= {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"):
        os.environ.pop(name, None)

    clients: list[AiobotocoreClient | QuarryClient] = []
    figures: list[Figures] = []
    for name in args.clients:
        client: AiobotocoreClient | QuarryClient
        if name == "aiobotocore":
            client, dist = AiobotocoreClient(args.model), "aiobotocore"
        else:
            try:
                import quarry.bedrock  # noqa: F401  (only to know whether it is there yet)
            except ImportError as exc:
                print(f"note: skipping quarry.bedrock ({exc})", file=sys.stderr)
                continue
            client, dist = QuarryClient(args.model), "quarry"
        await client.open(args.url)
        await warm_up(client, args)
        clients.append(client)
        figures.append(Figures(name=client.name, version=version(dist)))
    for _ in range(args.rounds):
        for client, figure in zip(clients, figures, strict=True):
            await measure_round(client, figure, args)
    for client in clients:
        await client.aclose()
    return figures


def best(values: list[float], digits: int = 1) -> float | None:
    return round(min(values), digits) if values else None


def summary(figures: Figures, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "bench": "bedrock_client_cpu",
        "client": figures.name,
        "version": figures.version,
        "rounds": args.rounds,
        "requests_per_round": args.requests,
        "inflight": args.inflight,
        "streams_per_round": args.streams,
        "words": args.words,
        "events_per_stream": round(figures.events_per_stream, 1),
        "us_cpu_per_request": best(figures.request_cpu_us),
        "us_cpu_per_event": best(figures.event_cpu_us, 2),
        "us_cpu_per_event_net": best(figures.event_net_cpu_us, 2),
        "us_cpu_per_stream": best(figures.stream_cpu_us, 0),
        "converse_wall_ms_p50": best(figures.converse_wall_ms, 3),
        "rounds_us_cpu_per_request": [round(v, 1) for v in figures.request_cpu_us],
        "rounds_us_cpu_per_event": [round(v, 2) for v in figures.event_cpu_us],
        "errors": figures.errors,
        "first_error": figures.first_error,
        "url": args.url,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8181", help="emulator base URL (default: %(default)s)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="modelId (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=1000, help="Converse requests per round (default: 1000)")
    parser.add_argument(
        "--inflight", type=int, default=1, help="Converse requests in flight at once (default: %(default)s)"
    )
    parser.add_argument("--streams", type=int, default=30, help="ConverseStream answers per round (default: 30)")
    parser.add_argument("--words", type=int, default=500, help="words per streamed answer (default: 500)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per client, alternating (default: 3)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first (default: 200)")
    parser.add_argument(
        "--clients",
        nargs="+",
        choices=["aiobotocore", "quarry"],
        default=["aiobotocore", "quarry"],
        help="clients to measure (default: both; quarry is skipped when quarry.bedrock is not importable)",
    )
    args = parser.parse_args()
    if min(args.requests, args.streams, args.rounds, args.words, args.inflight) < 1 or args.warmup < 0:
        parser.error("--requests, --inflight, --streams, --rounds and --words must be >= 1, --warmup >= 0")
    loop_name, runner = event_loop_runner()
    results = [summary(figures, args) | {"loop": loop_name} for figures in runner(run(args))]

    print(f"\nBedrock client CPU, best of {args.rounds} rounds (`{' '.join(sys.argv)}`):\n")
    print("| client | µs CPU / Converse request | µs CPU / stream event (net) | µs CPU / stream | events / stream |")
    print("|---|---|---|---|---|")
    for r in results:
        cells = [
            f"{r['client']} {r['version']}",
            f"{r['us_cpu_per_request']}",
            f"{r['us_cpu_per_event']} ({r['us_cpu_per_event_net']})",
            f"{r['us_cpu_per_stream']:,.0f}" if r["us_cpu_per_stream"] is not None else "-",
            f"{r['events_per_stream']}",
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    for r in results:
        print(json.dumps(r), flush=True)
    return 1 if not results or any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
