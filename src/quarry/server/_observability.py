"""Wiring what an operator sees into one app: metrics and the access log as Exchange listeners, the runtime's
upstream errors counted, and the `/metrics` endpoint with its access rule."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request
from starlette.responses import Response

from quarry.api import context_of
from quarry.bedrock import BedrockRuntime
from quarry.exchange import exchange_of
from quarry.observability import AccessLog, Metrics, OverheadHistogram, Tracing
from quarry.server._middleware import Listener
from quarry.settings import Settings

__all__ = ["metrics_endpoint", "observe"]


def observe(
    settings: Settings, runtime: BedrockRuntime, tracing: Tracing | None = None
) -> tuple[Metrics, list[Listener]]:
    """Fresh metrics for one run of the app, the runtime's upstream errors counted into them (and its attempts
    traced, when tracing is on), and the Exchange listeners that feed them and the access log."""
    metrics = Metrics()
    runtime.on_upstream_error = metrics.upstream_error
    if tracing is not None:
        runtime.on_attempt = tracing.attempt
    metrics.watch_circuits(runtime.breakers.views)
    listeners: list[Listener] = [metrics.observe, OverheadHistogram(metrics.registry)]
    if settings.access_log:
        listeners.append(AccessLog())
    return metrics, listeners


def _is_loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus exposition. Open to loopback scrapers (a sidecar, `curl` on the host) and, with
    `metrics_public`, to all; anyone else needs an API key. The client address is the one uvicorn reports —
    behind a local reverse proxy, the forwarded one (uvicorn trusts `X-Forwarded-For` from 127.0.0.1)."""
    context = context_of(request)
    services = context.services
    exchange_of(request).api = "metrics"
    client = request.client.host if request.client else None
    if not (services.settings.metrics_public or _is_loopback(client)):
        await services.authenticate(request, "metrics")
    body, media_type = context.metrics.exposition(request.headers.get("accept"))
    return Response(body, headers={"content-type": media_type})
