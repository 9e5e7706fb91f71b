"""The middleware that opens an Exchange for every request, carries its `x-request-id`, and closes it once the
response is over — whole, streamed to the end, failed or abandoned — so that what listens learns of every call.

A response's last body message is held until the exchange is closed and whatever its listeners hand back has been
awaited (the usage writer's commit, when usage is durable): a client that has the whole answer knows it is
counted."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quarry.exchange import Exchange, serve_exchange

__all__ = ["ExchangeMiddleware", "Listener"]

log = logging.getLogger("quarry")
Listener = Callable[[Exchange], Awaitable[None] | None]  # what it returns, the response's last bytes wait for
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")  # what a caller's id may look like to be kept


def _tagged(raw: Iterable[tuple[bytes, bytes]], request_id: str, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """The response's headers with `x-request-id` set and each of `extra` added unless the response has it (on raw
    pairs: Starlette's MutableHeaders decodes every name at each lookup)."""
    headers = [(name, value) for name, value in raw if name.lower() != b"x-request-id"]
    headers.append((b"x-request-id", request_id.encode("latin-1")))
    if extra:
        present = {name.lower() for name, _ in headers}
        for name, value in extra.items():
            key = name.lower().encode("latin-1")
            if key not in present:
                headers.append((key, value.encode("latin-1")))
    return headers


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
        last: list[Message] = []

        async def tagged_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                last.append(message)
                return
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                message["headers"] = _tagged(message.get("headers", ()), request_id, exchange.response_headers())
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        except BaseException:
            if not exchange.status:
                exchange.status = 500
            raise
        finally:
            exchange.finished_at = time.perf_counter()
            waits = []
            for callback in [*exchange.on_close, *self.listeners]:
                try:
                    if (wait := callback(exchange)) is not None:
                        waits.append(wait)
                except Exception:
                    log.exception("an exchange listener failed")
            restore()
            if last:
                for wait in waits:
                    try:
                        await wait
                    except Exception:
                        log.exception("an exchange listener failed")
                await send(last[0])
