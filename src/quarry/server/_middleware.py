"""The middleware that opens an Exchange for every request, carries its `x-request-id`, and closes it once the
response is over — whole, streamed to the end, failed or abandoned — so that what listens learns of every call."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quarry.exchange import Exchange, serve_exchange

__all__ = ["ExchangeMiddleware", "Listener"]

log = logging.getLogger("quarry")
Listener = Callable[[Exchange], None]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")  # what a caller's id may look like to be kept


class ExchangeMiddleware:
    """Pure ASGI (a BaseHTTPMiddleware would buffer streams). `listeners` is filled by the app's lifespan."""

    def __init__(self, app: ASGIApp, listeners: list[Listener]) -> None:
        self.app = app
        self.listeners = listeners

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # uuid4().hex's form (32 hex digits) at half its cost: four ids a request were ~1% of its CPU.
        request_id = given if _REQUEST_ID.match(given) else secrets.token_hex(16)
        exchange = Exchange(request_id=request_id, method=scope["method"], path=scope["path"])
        scope.setdefault("state", {})["exchange"] = exchange
        restore = serve_exchange(exchange)  # current for this task: the runtime notes its wait on Bedrock there

        async def tagged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                for name, value in exchange.response_headers().items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        except BaseException:
            if not exchange.status:
                exchange.status = 500
            raise
        finally:
            exchange.finished_at = time.perf_counter()
            for callback in [*exchange.on_close, *self.listeners]:
                try:
                    callback(exchange)
                except Exception:
                    log.exception("an exchange listener failed")
            restore()
