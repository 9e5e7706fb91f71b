"""CPU per request of the gateway's request path, in-process: `create_app`'s whole ASGI app (every middleware,
listener, key check, admission, usage row, metric and access-log line on) driven without sockets, so that uvicorn's
HTTP parsing and the load client are left out and the figure is steady on a busy machine. The Bedrock calls are
real: the app's runtime sends them to an emulator in another process (`quarry emulator`, pinned elsewhere), so the
upstream client's CPU is in the figure, as it is in the server's.

    PYTHONPATH=src .venv/bin/python bench/request_path_cpu.py --url http://127.0.0.1:PORT [--api chat]

Prints one JSON line per API: microseconds of this process's CPU (`time.process_time`, every thread) per request,
best and median of the rounds, with C requests in flight.

With `--replay`, the app's own CPU alone: each Bedrock call (the runtime's `converse` and `invoke_claude`, the
Bedrock routes' relay) is made once for real, then answered from what it returned, so the Bedrock client's
signing and HTTP are left out and nothing waits: every request runs to its end without yielding. Its figures
are steadier on a busy machine, for work on the request path outside the Bedrock client; attribution only,
not a figure of the served gateway."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
KEY = "bench-key"
MESSAGES = [{"role": "user", "content": "hello there"}]
REQUESTS: dict[str, tuple[str, dict[str, Any], list[tuple[bytes, bytes]]]] = {
    "chat": ("/v1/chat/completions", {"model": MODEL, "messages": MESSAGES, "max_tokens": 64}, []),
    "messages": (
        "/v1/messages",
        {"model": MODEL, "messages": MESSAGES, "max_tokens": 64},
        [(b"anthropic-version", b"2023-06-01")],
    ),
    "chat-stream": (
        "/v1/chat/completions",
        {"model": MODEL, "messages": MESSAGES, "max_tokens": 64, "stream": True},
        [],
    ),
    "responses": ("/v1/responses", {"model": MODEL, "input": "hello there", "max_output_tokens": 64}, []),
    "converse": (
        f"/model/{MODEL}/converse",
        {"messages": [{"role": "user", "content": [{"text": "hello there"}]}], "inferenceConfig": {"maxTokens": 64}},
        [],
    ),
}

Message = dict[str, Any]


def _environment(url: str, data_dir: str) -> None:
    """What bench/run_gateway.sh gives `quarry serve`: the emulator as Bedrock, fixed credentials, the bootstrap key."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=url,
        AWS_ENDPOINT_URL_BEDROCK=url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # the emulator's fake credentials
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        QUARRY_API_KEY=KEY,
        QUARRY_DATA_DIR=data_dir,
        QUARRY_CONFIG=os.path.join(data_dir, "none.toml"),
    )


def _replay() -> None:
    """Each Bedrock call answered, after its first, from the JSON that first call returned (parsed again each time,
    as the runtime parses Bedrock's answer)."""
    import quarry.api.bedrock._runtime as routes
    from quarry.bedrock import BedrockRuntime

    answers: dict[tuple[str, str], bytes] = {}

    def replayed(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(self: BedrockRuntime, model_id: str, *args: Any, **kwargs: Any) -> Any:
            key = (method.__name__, model_id)
            if key not in answers:
                answers[key] = orjson.dumps(await method(self, model_id, *args, **kwargs))
            return orjson.loads(answers[key])

        return call

    BedrockRuntime.converse = replayed(BedrockRuntime.converse)  # type: ignore[method-assign]
    BedrockRuntime.invoke_claude = replayed(BedrockRuntime.invoke_claude)  # type: ignore[method-assign]
    relay = routes.relay
    relayed: dict[str, tuple[int, dict[str, str], bytes]] = {}

    class Relayed:
        def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.status, self.headers, self._body = status, headers, body

        async def read(self) -> bytes:
            return self._body

    @contextlib.asynccontextmanager
    async def replay_relay(runtime: Any, path: str, body: bytes, headers: Any, *, stream: bool) -> AsyncIterator[Any]:
        if stream:
            raise RuntimeError("--replay answers whole calls only")
        if path not in relayed:
            async with relay(runtime, path, body, headers, stream=False) as real:
                relayed[path] = (real.status, dict(real.headers), await real.read())
        yield Relayed(*relayed[path])

    routes.relay = replay_relay  # type: ignore[assignment]


async def _lifespan(app: Any) -> tuple[dict[str, Any], Callable[[], Awaitable[None]]]:
    """Start the app's lifespan; its state and a function that shuts it down."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    state: dict[str, Any] = {}
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")

    async def shutdown() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return state, shutdown


async def _one(app: Any, state: dict[str, Any], path: str, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Bearer {KEY}".encode()),
        *extra,
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": dict(state),
    }
    sent = False
    status = 0
    disconnected = asyncio.Event()

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    disconnected.set()
    if status != 200:
        raise RuntimeError(f"{path} answered {status}")


async def _round(app: Any, state: dict[str, Any], api: str, requests: int, concurrency: int) -> float:
    path, payload, extra = REQUESTS[api]
    body = orjson.dumps(payload)
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await _one(app, state, path, body, extra)

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the emulator's URL (quarry emulator, pacing off)")
    parser.add_argument("--api", default="chat", help=f"comma-separated, of {', '.join(REQUESTS)} (default: chat)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round (default: 2000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default: 32)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, after one warm-up round (default: 5)")
    parser.add_argument("--replay", action="store_true", help="the app's own CPU: Bedrock's answers replayed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        _environment(args.url, data_dir)
        if args.replay:
            _replay()
        from quarry.observability import configure_logging

        # As `quarry serve` logs: the access log's lines are written (to /dev/null, or BENCH_LOG), not just formatted.
        with open(os.environ.get("BENCH_LOG", os.devnull), "w") as log:
            configure_logging(log)
            try:
                import uvloop
            except ImportError:
                asyncio.run(_measure(args))
            else:
                uvloop.run(_measure(args))
            logging.shutdown()


async def _measure(args: argparse.Namespace) -> None:
    from quarry.server import create_app

    app = create_app()
    state, shutdown = await _lifespan(app)
    try:
        for api in args.api.split(","):
            await _round(app, state, api, args.requests // 4, args.concurrency)  # warm-up
            figures = [await _round(app, state, api, args.requests, args.concurrency) for _ in range(args.rounds)]
            line = {
                "api": api,
                "path": REQUESTS[api][0],
                "concurrency": args.concurrency,
                "requests_per_round": args.requests,
                "cpu_us_per_request_best": round(min(figures), 1),
                "cpu_us_per_request_median": round(statistics.median(figures), 1),
                "rounds": [round(figure, 1) for figure in figures],
                "replay": args.replay,
            }
            print(orjson.dumps(line).decode(), flush=True)
    finally:
        await shutdown()


if __name__ == "__main__":
    main()
