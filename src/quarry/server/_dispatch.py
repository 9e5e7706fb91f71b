"""The request path's short cut: the API's plain routes served straight from a table, without walking Starlette's
router and FastAPI's exception, telemetry and body-limit layers on every call.

Profiled at 32 connections, those layers and the router's walk over every route (each `await` of a coroutine chain
is resumed through every frame of it) were about a quarter of the gateway's CPU per request. A route here is served
exactly as Starlette would serve it: the table holds a (path, method) only where Starlette's router picks that same
route (asked through the routes' own `matches`), every other request falls through to the whole app, and the
user middleware (the Exchange, tracing, the Host/Origin guard, CORS) wraps both. An endpoint's exception is turned
into a response by the app's own exception handlers, as Starlette's ExceptionMiddleware would.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Dispatch", "Gateway", "HotRoute", "hot_routes", "wrap"]

log = logging.getLogger("quarry")
Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


@dataclass(frozen=True, slots=True)
class HotRoute:
    """A route served from the table: its endpoint and methods, and for a catch-all route (`/model/{rest:path}`)
    the path parameter that takes the rest of the path."""

    endpoint: Endpoint
    methods: frozenset[str]
    rest: str | None = None


def _probe(path: str, method: str) -> Scope:
    return {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}


def _first_full(routes: Sequence[BaseRoute], path: str, method: str) -> Mapping[str, Any] | None:
    """The child scope of the route Starlette's router would pick for (path, method); None when none fully matches."""
    for route in routes:
        match, child = route.matches(_probe(path, method))
        if match is Match.FULL:
            return child
    return None


def _catch_all(route: Route) -> tuple[str, str] | None:
    """(literal prefix, parameter) of a route whose only parameter is a final `{name:path}`; else None."""
    head, brace, tail = route.path.partition("{")
    if not brace or not tail.endswith(":path}") or "{" in tail or not head.endswith("/"):
        return None
    return head, tail[: -len(":path}")]


def _may_overlap(route: BaseRoute, prefix: str) -> bool:
    """Whether `route` could match some path starting with `prefix` (conservative: unknown kinds of route may)."""
    if not isinstance(route, Route | Mount):
        return True
    literal = route.path.partition("{")[0]
    open_ended = isinstance(route, Mount) or literal != route.path  # matches paths longer than its literal part
    return literal.startswith(prefix) or (open_ended and prefix.startswith(literal))


def hot_routes(
    routes: Sequence[BaseRoute], candidates: Iterable[tuple[str, Route]]
) -> tuple[dict[tuple[str, str], HotRoute], tuple[tuple[str, HotRoute], ...]]:
    """The table for `Dispatch`: each candidate (full path, route) with no path parameters, under each of its methods
    for which the app's `routes` (in order) would pick it; and each top-level catch-all route of `routes` that no
    route before it could shadow, by its literal prefix."""
    exact: dict[tuple[str, str], HotRoute] = {}
    for path, route in candidates:
        if type(route) is not Route or "{" in path or not route.methods:
            continue
        for method in route.methods:
            child = _first_full(routes, path, method)
            if child is not None and child.get("endpoint") is route.endpoint and not child.get("path_params"):
                exact[(path, method)] = HotRoute(route.endpoint, frozenset(route.methods))
    prefixes: list[tuple[str, HotRoute]] = []
    for index, entry in enumerate(routes):
        if type(entry) is not Route or not entry.methods:
            continue
        found = _catch_all(entry)
        if found is None:
            continue
        prefix, rest = found
        if any(_may_overlap(earlier, prefix) for earlier in routes[:index]):
            continue
        prefixes.append((prefix, HotRoute(entry.endpoint, frozenset(entry.methods), rest)))
    return exact, tuple(prefixes)


class Dispatch:
    """Pure ASGI, outermost: a request for a route in the table goes to `hot` (the user middleware around the
    table's endpoints), anything else — other paths and methods, websockets, the lifespan — to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        middleware: Sequence[Middleware],
        exact: dict[tuple[str, str], HotRoute],
        prefixes: tuple[tuple[str, HotRoute], ...],
        handlers: Mapping[Any, Handler],
        router: object,
    ) -> None:
        self.app = app
        self.exact = exact
        self.prefixes = prefixes
        self.handlers = dict(handlers)
        self.router = router
        self.hot = wrap(self._serve, middleware)

    def _lookup(self, scope: Scope) -> tuple[HotRoute, dict[str, str]] | None:
        path: str = scope["path"]
        method: str = scope["method"]
        route = self.exact.get((path, method))
        if route is not None:
            return route, {}
        for prefix, route in self.prefixes:
            if path.startswith(prefix) and method in route.methods and route.rest is not None:
                return route, {route.rest: path[len(prefix) :]}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A root path (`--root-path`) changes what the router matches on: such servers take the long way.
        found = self._lookup(scope) if scope["type"] == "http" and not scope.get("root_path") else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, params = found
        scope["router"] = self.router
        scope["endpoint"] = route.endpoint
        scope["path_params"] = params
        await self.hot(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _Request(scope, receive, send)
        try:
            response = await scope["endpoint"](request)
        except Exception as exc:
            response = await self._handled(request, exc)
        await response(scope, receive, send)

    async def _handled(self, request: Request, exc: Exception) -> Response:
        """The app's handler for the exception's class (the nearest in its MRO), as Starlette picks it."""
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                response = handler(request, exc)
                answer: Response = await response if inspect.isawaitable(response) else response
                return answer
        raise exc


class _Headers(Headers):
    """Starlette's request headers, looked up in a dict made at the first lookup. Starlette walks every pair on each
    lookup, and `get` of an absent one (most of the ~7 a call makes: fallbacks, the SDKs' timeouts, `x-api-key`)
    raises and catches a KeyError: ~4 us a chat completion with the OpenAI SDK's 17 headers."""

    _first: dict[bytes, bytes] | None = None

    def _index(self) -> dict[bytes, bytes]:
        if self._first is None:
            self._first = dict(reversed(self._list))  # of a repeated header, the first, as Starlette reads it
        return self._first

    def __getitem__(self, key: str) -> str:
        value = self._index().get(key.lower().encode("latin-1"))
        if value is None:
            raise KeyError(key)
        return value.decode("latin-1")

    def get(self, key: str, default: Any = None) -> Any:
        value = self._index().get(key.lower().encode("latin-1"))
        return default if value is None else value.decode("latin-1")

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower().encode("latin-1") in self._index()


class _Request(Request):
    """The hot routes' Request: its headers read through `_Headers`."""

    @property
    def headers(self) -> Headers:
        if not hasattr(self, "_headers"):
            self._headers = _Headers(scope=self.scope)
        return self._headers


def wrap(app: ASGIApp, middleware: Sequence[Middleware]) -> ASGIApp:
    """`app` inside `middleware`, the first outermost (as Starlette builds its stack)."""
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)
    return app


class Gateway(FastAPI):
    """FastAPI with `Dispatch` in front of its middleware stack; the app's plain routes (top-level `Route`s, not
    included routers, whose choice of route `matches` does not tell) are the table's candidates."""

    def build_middleware_stack(self) -> ASGIApp:
        whole = super().build_middleware_stack()
        routes = self.router.routes
        exact, prefixes = hot_routes(routes, ((r.path, r) for r in routes if type(r) is Route))
        return Dispatch(whole, self.user_middleware, exact, prefixes, self.exception_handlers, self.router)
