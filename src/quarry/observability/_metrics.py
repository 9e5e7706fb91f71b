"""Prometheus metrics of one gateway: what finished exchanges, open streams and Bedrock's refusals say.

Each `Metrics` owns its registry, so two apps in one process (tests, an embedded gateway) never share series.
Labels are bounded on purpose: the API name, the resolved Bedrock model id, the status code and error class, and
for spend the key's id (`key_…`, one per key the operator made; never the key itself) — never a caller-chosen
string or a request id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from quarry.errors import QuarryError, RateLimited
from quarry.exchange import Exchange

__all__ = ["CIRCUIT_STATES", "LATENCY_BUCKETS_S", "Circuit", "Labelled", "Metrics"]

Family = TypeVar("Family", bound=MetricWrapperBase)

# quarry_circuit_state's values: a number per state, so a dashboard can alert on `> 0`.
CIRCUIT_STATES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}

# From a cached /v1/models answer (milliseconds) to a long generation with thinking (minutes).
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


class Circuit(Protocol):
    """What the circuit gauge reads of a breaker (quarry.bedrock's CircuitView has it)."""

    @property
    def model(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def state(self) -> str: ...


class _Circuits(Collector):
    """quarry_circuit_state, read from the breakers at scrape time: a cool-down that ended shows half-open even if
    no call has come since."""

    def __init__(self, views: Callable[[], Iterable[Circuit]]) -> None:
        self._views = views

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self._family()]

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "quarry_circuit_state",
            "Circuit breaker per model and region: 0 closed, 1 half-open (one probe allowed), 2 open (calls refused).",
            labels=["model", "region"],
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        for circuit in self._views():
            family.add_metric([circuit.model, circuit.region], CIRCUIT_STATES.get(circuit.state, 0.0))
        yield family


class Labelled(Generic[Family]):
    """A labelled metric's children by their label values, each looked up once: prometheus_client's `labels()`
    checks, converts and locks on every call (a tenth of the listeners' cost per request). The label values are
    bounded (see the module's docstring), so this cache is too."""

    def __init__(self, family: Family) -> None:
        self.family = family
        self._children: dict[tuple[str, ...], Family] = {}

    def __call__(self, *values: str) -> Family:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.family.labels(*values)
        return child


class _Tally(Collector):
    """Counter increments summed per child until the registry is read: prometheus_client's `inc` checks its metric
    and takes a lock on every call, and a finished request makes four. Registered first, so that any read of the
    registry (`exposition`, or anything else calling its `collect`) adds the sums to the children before they are
    read; the children themselves are made at the first increment, as they would be without it."""

    def __init__(self) -> None:
        self._pending: dict[Counter, float] = {}

    def add(self, child: Counter, amount: float) -> None:
        self._pending[child] = self._pending.get(child, 0.0) + amount

    def collect(self) -> Iterable[Metric]:
        pending, self._pending = self._pending, {}
        for child, amount in pending.items():
            child.inc(amount)
        return ()


class Metrics:
    """The `quarry_*` series. `observe` is an Exchange listener, `stream` an SSE hook, `upstream_error` the
    runtime's callback; each is a few dictionary lookups and additions, cheap enough for every request."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._tally = _Tally()
        registry.register(self._tally)  # first: read before the series it adds to
        self.requests = Counter(
            "quarry_requests", "HTTP requests answered.", ["api", "model", "status"], registry=registry
        )
        self.errors = Counter(
            "quarry_errors", "Requests that failed, by Quarry error class.", ["api", "type"], registry=registry
        )
        self.latency = Histogram(
            "quarry_request_duration_seconds",
            "From the request's arrival to its last byte (a stream's end).",
            ["api", "model"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.ttft = Histogram(
            "quarry_time_to_first_token_seconds",
            "From a streamed request's arrival to its first generated token.",
            ["api", "model"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.tokens = Counter(
            "quarry_tokens", "Tokens Bedrock reported, by kind.", ["model", "kind"], registry=registry
        )
        self.spend = Counter(
            "quarry_spend_usd",
            "What calls cost in US dollars (the price table's), by key id and the model that answered.",
            ["key", "model"],
            registry=registry,
        )
        self.budget_warnings = Counter(
            "quarry_budget_warnings",
            "Admitted calls that took a key past a budget's soft threshold.",
            ["kind", "period"],
            registry=registry,
        )
        self.active_streams = Gauge("quarry_active_streams", "SSE responses being streamed now.", registry=registry)
        self.upstream_throttles = Counter(
            "quarry_upstream_throttles",
            "Throttling answers from Bedrock, including those Quarry retried before answering.",
            registry=registry,
        )
        self.upstream_errors = Counter(
            "quarry_upstream_errors",
            "Error answers from Bedrock (retried or not), by Quarry error class.",
            ["type"],
            registry=registry,
        )
        self._requests = Labelled(self.requests)
        self._errors = Labelled(self.errors)
        self._latency = Labelled(self.latency)
        self._ttft = Labelled(self.ttft)
        self._tokens = Labelled(self.tokens)
        self._spend = Labelled(self.spend)

    def observe(self, exchange: Exchange) -> None:
        """Count a finished exchange."""
        api = exchange.api or "other"
        model = exchange.model or ""
        tally = self._tally.add
        tally(self._requests(api, model, str(exchange.status)), 1.0)
        if exchange.error_type:
            tally(self._errors(api, exchange.error_type), 1.0)
        self._latency(api, model).observe(exchange.latency_s)
        ttft = exchange.ttft_s
        if ttft is not None:
            self._ttft(api, model).observe(ttft)
        for kind, count in (
            ("input", exchange.input_tokens),
            ("output", exchange.output_tokens),
            ("cache_read", exchange.cache_read_tokens),
            ("cache_write", exchange.cache_write_tokens),
        ):
            if count:
                tally(self._tokens(model, kind), count)
        cost = exchange.cost()
        if cost:
            tally(self._spend(exchange.key_id or "", model), cost)

    def budget_warning(self, kind: str, period: str) -> None:
        """A call was admitted past a budget's soft threshold."""
        self.budget_warnings.labels(kind, period).inc()

    def stream(self, delta: int) -> None:
        """An SSE response started (+1) or ended (-1)."""
        self.active_streams.inc(delta)

    def upstream_error(self, error: QuarryError) -> None:
        """Bedrock answered with an error, on a first try, a retry or inside a stream."""
        self.upstream_errors.labels(type(error).__name__).inc()
        if isinstance(error, RateLimited):
            self.upstream_throttles.inc()

    def watch_circuits(self, views: Callable[[], Iterable[Circuit]]) -> None:
        """Export the circuit breakers' states (the runtime's `breakers.views`) as quarry_circuit_state."""
        self.registry.register(_Circuits(views))

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (OpenMetrics or Prometheus text) and its media type."""
        encode, media_type = choose_encoder(accept or "")
        return encode(self.registry), media_type
