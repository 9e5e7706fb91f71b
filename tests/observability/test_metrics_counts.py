"""Counter increments are summed between reads of the registry: every read, whoever makes it, sees every call."""

from __future__ import annotations

import time

from quarry.exchange import Exchange
from quarry.observability import Metrics


def _finished(status: int, tokens: int) -> Exchange:
    exchange = Exchange(request_id="r", method="POST", path="/v1/chat/completions", api="chat.completions")
    exchange.model, exchange.status, exchange.input_tokens = "m", status, tokens
    exchange.finished_at = time.perf_counter()
    return exchange


def test_each_read_of_the_registry_counts_every_call_observed_before_it() -> None:
    metrics = Metrics()
    requests = {"api": "chat.completions", "model": "m", "status": "200"}
    metrics.observe(_finished(200, 5))
    assert metrics.registry.get_sample_value("quarry_requests_total", requests) == 1
    metrics.observe(_finished(200, 7))
    metrics.observe(_finished(200, 1))
    assert metrics.registry.get_sample_value("quarry_requests_total", requests) == 3
    assert metrics.registry.get_sample_value("quarry_tokens_total", {"model": "m", "kind": "input"}) == 13
    metrics.observe(_finished(500, 0))
    body, _ = metrics.exposition(None)
    assert b'quarry_requests_total{api="chat.completions",model="m",status="500"} 1.0' in body
    assert b'quarry_requests_total{api="chat.completions",model="m",status="200"} 3.0' in body
