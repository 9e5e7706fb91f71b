"""OpenTelemetry traces of one gateway, in the GenAI semantic conventions, exported over OTLP/HTTP (protobuf).

Each app has its own TracerProvider (never the global one), so two apps in one process never share spans; what
needs the tracer is handed this `Tracing`. The SDK and exporter are the `otel` extra, imported only when tracing is
configured. Conventions followed (Development status, which is why the names are spelled out here):
- GenAI spans: https://github.com/open-telemetry/semantic-conventions-genai (docs/gen-ai/gen-ai-spans.md; the
  retrieval span in docs/gen-ai/retrieval.md): span name `{gen_ai.operation.name} {gen_ai.request.model}`,
  `gen_ai.provider.name` (which replaced the deprecated `gen_ai.system`), usage, `error.type`.
- Bedrock: https://opentelemetry.io/docs/specs/semconv/gen-ai/aws-bedrock/ — `gen_ai.provider.name` is
  `aws.bedrock`, upstream spans are CLIENT spans.
No prompt or answer text is put in a span unless `tracing.content` is on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import orjson

from quarry.bedrock import Attempt, AttemptWatch
from quarry.errors import QuarryError
from quarry.exchange import Exchange
from quarry.settings import TracingSettings

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

__all__ = ["PROVIDER", "Tracing", "operation_of", "retrieval_attributes", "traced"]

PROVIDER = "aws.bedrock"
_MISSING = (
    "tracing.otlp_endpoint is set but the `otel` extra is not installed ({name} is missing): pip install 'quarry[otel]'"
)
# Quarry's API names → GenAI operation names (the conventions' well-known values).
_OPERATIONS = {
    "chat.completions": "chat",
    "messages": "chat",
    "responses": "chat",
    "converse": "chat",
    "converse-stream": "chat",
    "invoke": "chat",
    "invoke-with-response-stream": "chat",
    "embeddings": "embeddings",
    # Bedrock's own API (quarry.api.bedrock's names)
    "bedrock.converse": "chat",
    "bedrock.converse_stream": "chat",
    "bedrock.invoke_model": "chat",
    "bedrock.invoke_model_with_response_stream": "chat",
    "bedrock.messages": "chat",
}


def operation_of(api: str, model: str | None = None) -> str | None:
    """The GenAI operation of a Quarry API (or a Bedrock operation) name, None for a call that asks no model."""
    if model and "embed" in model:  # InvokeModel serves embedding models too
        return "embeddings"
    return _OPERATIONS.get(api)


def _epoch_ns(at: float) -> int:
    """A `time.perf_counter()` reading as the wall-clock nanoseconds spans are stamped with."""
    return time.time_ns() - int((time.perf_counter() - at) * 1e9)


class Tracing:
    """The tracer of one app. `start()` (the lifespan) builds the provider and its batch exporter; `aclose()`
    sends what is queued. Until started, and after shutdown, `tracer` is None and nothing is traced."""

    def __init__(self, settings: TracingSettings) -> None:
        if not settings.otlp_endpoint:
            raise ValueError("tracing needs tracing.otlp_endpoint")
        try:  # fail when the app is made, naming the extra, rather than at the first request
            import opentelemetry.exporter.otlp.proto.http.trace_exporter
            import opentelemetry.sdk.trace  # noqa: F401
        except ImportError as exc:
            raise RuntimeError(_MISSING.format(name=exc.name)) from None
        self.settings = settings
        self.provider: TracerProvider | None = None
        self.tracer: Tracer | None = None

    @classmethod
    def configured(cls, settings: TracingSettings) -> Tracing | None:
        """Tracing when an endpoint is configured, else None (and no cost anywhere)."""
        return cls(settings) if settings.otlp_endpoint else None

    def start(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        settings = self.settings
        provider = TracerProvider(
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
            resource=Resource.create({"service.name": settings.service_name}),
            shutdown_on_exit=False,  # the lifespan shuts it down; an atexit hook would keep every app alive
        )
        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=settings.export_delay_ms))
        self.provider = provider
        self.tracer = provider.get_tracer("quarry")

    async def aclose(self) -> None:
        """Send the spans still queued and stop the exporter's thread; in a thread of its own, as the export is
        blocking HTTP and a collector that is down would otherwise stall the event loop for its timeout."""
        provider, self.provider, self.tracer = self.provider, None, None
        if provider is not None:
            await asyncio.to_thread(provider.shutdown)

    # -- the request's SERVER span ---------------------------------------------------------------------------------

    def begin(self, method: str, path: str, headers: Mapping[str, str]) -> tuple[Span, Context] | None:
        """The SERVER span of one request, continuing the caller's W3C `traceparent` if it sent one, and the context
        to make current while the request runs."""
        tracer = self.tracer
        if tracer is None:
            return None
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract(headers)
        span = tracer.start_span(
            f"{method} {path}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        )
        return span, trace.set_span_in_context(span, parent)

    def finish(self, span: Span, exchange: Exchange, response_started: float | None, raised: bool = False) -> None:
        """Name the SERVER span after what the request turned out to be, put the Exchange's facts on it, and end it
        (with a child span for a stream: from the response's start to its end, the first token an event)."""
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        operation = operation_of(exchange.api, exchange.model)
        attributes: dict[str, Any] = {
            "http.response.status_code": exchange.status,
            "quarry.request_id": exchange.request_id,
        }
        if exchange.api:
            attributes["quarry.api"] = exchange.api
        if exchange.key_id:
            attributes["quarry.key_id"] = exchange.key_id
        attributes["quarry.overhead_ms"] = round(exchange.overhead_s * 1000, 3)
        if operation is not None and exchange.model:
            span.update_name(f"{operation} {exchange.model}")
            attributes.update(
                {
                    "gen_ai.operation.name": operation,
                    "gen_ai.provider.name": PROVIDER,
                    "gen_ai.request.model": exchange.model,
                    "gen_ai.response.model": exchange.upstream_model or exchange.model,
                    "gen_ai.request.max_tokens": exchange.max_tokens,
                    "gen_ai.response.finish_reasons": None
                    if exchange.finish_reason is None
                    else [exchange.finish_reason],
                    # The conventions count every input token, cached ones included, in input_tokens.
                    "gen_ai.usage.input_tokens": exchange.input_tokens
                    + exchange.cache_read_tokens
                    + exchange.cache_write_tokens,
                    "gen_ai.usage.output_tokens": exchange.output_tokens,
                    "gen_ai.usage.cache_read.input_tokens": exchange.cache_read_tokens,
                    "gen_ai.usage.cache_creation.input_tokens": exchange.cache_write_tokens,
                }
            )
        elif exchange.api:
            span.update_name(f"{exchange.method} {exchange.api}")
        status = 500 if raised and not exchange.status else exchange.status
        attributes["http.response.status_code"] = status
        failed = exchange.error_type is not None or status >= 500
        if exchange.error_type is not None:
            attributes["error.type"] = exchange.error_type
        elif status >= 500:
            attributes["error.type"] = str(status)
        span.set_attributes({name: value for name, value in attributes.items() if value is not None})
        if failed:
            span.set_status(Status(StatusCode.ERROR))
        if exchange.stream and response_started is not None and self.tracer is not None:
            stream = self.tracer.start_span(
                "stream",
                context=trace.set_span_in_context(span),
                start_time=_epoch_ns(response_started),
                attributes={"gen_ai.request.model": exchange.model or ""},
            )
            if exchange.first_token_at is not None:
                stream.add_event("gen_ai.first_token", timestamp=_epoch_ns(exchange.first_token_at))
            if exchange.error_type is not None:
                stream.set_attribute("error.type", exchange.error_type)
                stream.set_status(Status(StatusCode.ERROR))
            stream.add_event("gen_ai.stream.end")
            stream.end()
        span.end()

    # -- child spans -----------------------------------------------------------------------------------------------

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[None]:
        """An INTERNAL child of the current span (admission, retrieval); a failure is its `error.type` (never the
        message, which may quote the caller's input)."""
        tracer = self.tracer
        if tracer is None:
            yield
            return
        from opentelemetry.trace import Status, StatusCode

        with tracer.start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise

    def attempt(self, attempt: Attempt) -> AbstractContextManager[AttemptWatch]:
        """The runtime's `on_attempt` hook: one CLIENT span per try of a Bedrock call."""
        return self._attempt(attempt)

    @contextmanager
    def _attempt(self, attempt: Attempt) -> Iterator[AttemptWatch]:
        tracer = self.tracer
        if tracer is None:
            yield _Quiet()
            return
        from opentelemetry import trace

        model = attempt.model_id or _body_model(attempt.body)
        operation = operation_of(attempt.operation, model) or attempt.operation
        url = attempt.endpoint_url.split("://", 1)[-1].split("/", 1)[0]
        host, _, port = url.rpartition(":") if url.count(":") == 1 else (url, "", "")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.request.model": model or "",
            "server.address": host or url,
            "cloud.region": attempt.region,
            "quarry.bedrock.operation": attempt.operation,
            "quarry.attempt": attempt.number,
        }
        if port.isdigit():
            attributes["server.port"] = int(port)
        if self.settings.content:
            messages = _body_messages(attempt.body)
            if messages is not None:
                attributes["gen_ai.input.messages"] = messages
        with tracer.start_as_current_span(
            f"{operation} {model}" if model else operation,
            kind=trace.SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            watch = _SpanWatch(span)
            try:
                yield watch
            except BaseException as exc:
                watch.failed_with(type(exc).__name__)
                raise


class _Quiet:
    def answered(self, status: int) -> None:
        pass

    def failed(self, error: QuarryError) -> None:
        pass


class _SpanWatch:
    def __init__(self, span: Span) -> None:
        self.span = span

    def answered(self, status: int) -> None:
        self.span.set_attribute("http.response.status_code", status)

    def failed(self, error: QuarryError) -> None:
        if error.status:
            self.span.set_attribute("http.response.status_code", error.status)
        self.failed_with(error.code or type(error).__name__)

    def failed_with(self, kind: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        self.span.set_attribute("error.type", kind)
        self.span.set_status(Status(StatusCode.ERROR))


def _body(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _body_model(body: bytes) -> str | None:
    """The model of a Messages-endpoint body (its path names none); read only when tracing."""
    model = (_body(body) or {}).get("model")
    return model if isinstance(model, str) else None


def _body_messages(body: bytes) -> str | None:
    """The messages sent to Bedrock as JSON, for `tracing.content` only."""
    parsed = _body(body)
    if parsed is None or "messages" not in parsed:
        return None
    return orjson.dumps(parsed["messages"]).decode()


_UNTRACED: AbstractContextManager[None] = nullcontext()


def traced(
    tracing: Tracing | None, name: str, attributes: Mapping[str, Any] | None = None
) -> AbstractContextManager[None]:
    """`tracing.span(...)`, or nothing at all when tracing is off (one shared, stateless `nullcontext`: a request
    enters this twice, for its key check and its admission)."""
    return _UNTRACED if tracing is None else tracing.span(name, attributes)


def retrieval_attributes(knowledge_base: str) -> dict[str, Any]:
    """A knowledge-base search's span attributes (the conventions' retrieval span: its name is the operation's)."""
    return {"gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": knowledge_base}
