"""The middleware that gives each request its SERVER span: inside `ExchangeMiddleware` (it reads the request's
Exchange), outside everything else, so refusals are traced too. Added only when tracing is configured."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quarry.exchange import Exchange
from quarry.observability._tracing import Tracing

__all__ = ["TRACE_ID_HEADER", "TraceMiddleware"]

TRACE_ID_HEADER = "x-quarry-trace-id"
_PROPAGATED = (b"traceparent", b"tracestate")  # W3C Trace Context: https://www.w3.org/TR/trace-context/


class TraceMiddleware:
    """Pure ASGI (a BaseHTTPMiddleware would buffer streams). The span is current while the request runs, so
    admission, retrieval and Bedrock attempts are its children; it ends once the response (a stream) is over."""

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = scope.get("state", {}).get("exchange") if scope["type"] == "http" else None
        begun = None
        if isinstance(exchange, Exchange):
            carrier = {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in scope["headers"]
                if name in _PROPAGATED
            }
            begun = self.tracing.begin(scope["method"], scope["path"], carrier)
        if begun is None or not isinstance(exchange, Exchange):
            await self.app(scope, receive, send)
            return
        from opentelemetry import context

        span, span_context = begun
        trace_id = format(span.get_span_context().trace_id, "032x")
        exchange.trace_id = trace_id
        exchange.headers[TRACE_ID_HEADER] = trace_id
        response_started: float | None = None

        async def timed_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = time.perf_counter()
            await send(message)

        token = context.attach(span_context)
        raised = False
        try:
            await self.app(scope, receive, timed_send)
        except BaseException:
            raised = True
            raise
        finally:
            context.detach(token)
            self.tracing.finish(span, exchange, response_started, raised)
