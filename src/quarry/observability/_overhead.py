"""Quarry's own overhead per request: its latency less the time spent waiting on Bedrock (for a stream, less the time
the upstream stream was open), as TensorZero publishes for its gateway
(https://www.tensorzero.com/docs/operations/export-prometheus-metrics: `tensorzero_inference_latency_overhead_seconds`).
The wait is noted by the Bedrock runtime on the request's Exchange; this is the Exchange listener that publishes it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from quarry.exchange import Exchange
from quarry.observability._metrics import Labelled

__all__ = ["OVERHEAD_BUCKETS_S", "OverheadHistogram"]

# From a fraction of a millisecond (a relayed answer) to a second (a knowledge base searched in-process).
OVERHEAD_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class OverheadHistogram:
    """`quarry_overhead_seconds` by API, on the app's metrics registry; an Exchange listener."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.histogram = Histogram(
            "quarry_overhead_seconds",
            "Quarry's own time per request: from arrival to last byte, less the time spent waiting on Bedrock.",
            ["api"],
            buckets=OVERHEAD_BUCKETS_S,
            registry=registry,
        )
        self._by_api = Labelled(self.histogram)

    def __call__(self, exchange: Exchange) -> None:
        self._by_api(exchange.api or "other").observe(exchange.overhead_s)
