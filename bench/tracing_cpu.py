"""What tracing costs per request: the gateway's middleware stack over a trivial ASGI app, driven in-process (no
sockets, so only Quarry's own code is timed), with tracing off (the default) and on (spans made and dropped by a
provider with no exporter), plus the per-attempt hook the Bedrock runtime runs with tracing off.

    PYTHONPATH=src .venv/bin/python bench/tracing_cpu.py [--requests 20000]

Prints one JSON line: microseconds of CPU per request for each case (best of 5 runs)."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
from opentelemetry.sdk.trace import TracerProvider

from quarry.bedrock import Attempt
from quarry.exchange import note_upstream_wait
from quarry.observability import TraceMiddleware, Tracing, traced
from quarry.server._middleware import ExchangeMiddleware  # the bench times the private middleware
from quarry.settings import TracingSettings

SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/v1/chat/completions",
    "headers": [(b"content-type", b"application/json")],
}


async def app(scope: Any, receive: Any, send: Any) -> None:
    with traced(None, "quarry.admit"):  # what a route's admission span costs with tracing off
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Any) -> None:
    return None


async def drive(stack: Any, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        await stack(dict(SCOPE), receive, send)
    return (time.process_time() - started) / requests * 1e6


def attempt_hook_off(requests: int) -> float:
    """`_send`'s added work per attempt with tracing off: the unwatched context and the noted wait."""
    from quarry.bedrock._attempts import unwatched  # private: the bench times what the runtime runs

    started = time.process_time()
    for _ in range(requests):
        with unwatched() as watch:
            watch.answered(200)
        note_upstream_wait(0.001, "model")
    return (time.process_time() - started) / requests * 1e6


def per_request_off(requests: int) -> float:
    """What tracing-off adds to every request: the Exchange made current (and restored) and two `traced(None)`."""
    from quarry.exchange import Exchange, serve_exchange

    exchange = Exchange(request_id="r", method="POST", path="/")
    started = time.process_time()
    for _ in range(requests):
        restore = serve_exchange(exchange)
        with traced(None, "quarry.authenticate"):
            pass
        with traced(None, "quarry.admit"):
            pass
        restore()
    return (time.process_time() - started) / requests * 1e6


def tracing_on() -> Tracing:
    tracing = Tracing(TracingSettings(otlp_endpoint="http://127.0.0.1:4318/v1/traces"))
    tracing.provider = TracerProvider()  # no processor: spans are made, ended and dropped; nothing is sent
    tracing.tracer = tracing.provider.get_tracer("bench")
    return tracing


async def main(requests: int) -> None:
    off = ExchangeMiddleware(app, listeners=[])
    on = ExchangeMiddleware(TraceMiddleware(app, tracing_on()), listeners=[])
    Attempt("/model/m/converse", b"{}", 1, "us-east-1", "http://127.0.0.1")  # imported and built once
    results: dict[str, float] = {}
    for name, stack in (("middleware_tracing_off_us", off), ("middleware_tracing_on_us", on)):
        await drive(stack, 1000)  # warm-up
        results[name] = round(min([await drive(stack, requests) for _ in range(5)]), 2)
    results["per_request_off_us"] = round(min(per_request_off(requests) for _ in range(5)), 3)
    results["attempt_hook_off_us"] = round(min(attempt_hook_off(requests) for _ in range(5)), 3)
    print(orjson.dumps({"requests": requests, **results}).decode())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    asyncio.run(main(parser.parse_args().requests))
