"""The app factory: one ASGI app, the dialects' routes under /v1 (and /api/v1), state built in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route

from quarry import __version__
from quarry.admin import CONSOLE_KEY, Console, console_routes
from quarry.api import (
    CONTEXT_KEY,
    AppContext,
    Services,
    admin_router,
    admin_teams_router,
    anthropic,
    bedrock,
    context_of,
    conversations,
    models_router,
    openai,
    responses,
    wants_anthropic,
)
from quarry.auth import (
    SERVER_KEY_PURPOSE,
    AwsCredentialStore,
    Budgeter,
    BudgetStore,
    InProcessLimiter,
    KeyAuthenticator,
    KeyGuardrails,
    KeyStore,
    Limiter,
    RedisLimiter,
    SigV4Verifier,
    UsageRecorder,
    bootstrap_key,
    open_ledger,
    server_key,
    toolbox_credentials,
)
from quarry.bedrock import Backend, ModelCatalog
from quarry.conversations import ConversationStore
from quarry.errors import ClientDisconnected, InvalidRequest, MethodNotAllowed, NotFound, QuarryError
from quarry.exchange import exchange_of
from quarry.media import FetchPolicy, ImageFetcher, MediaError, decode_data_url
from quarry.observability import TraceMiddleware, Tracing
from quarry.server._backend import open_backend
from quarry.server._console import open_console
from quarry.server._cors import add_cors
from quarry.server._dispatch import Gateway
from quarry.server._hosts import HostGuard, HostPolicy
from quarry.server._middleware import ExchangeMiddleware, Listener
from quarry.server._observability import metrics_endpoint, observe
from quarry.server._openapi import openapi_document
from quarry.settings import Settings
from quarry.spend import PriceTable
from quarry.store import open_database
from quarry.ui import mount_ui

if TYPE_CHECKING:
    from quarry.kb import KnowledgeBases  # the kb extra: imported at run time in _knowledge_bases only

__all__ = ["create_app"]

log = logging.getLogger("quarry")
_PREFIXES = ("/v1", "/api/v1")
_ANTHROPIC_PATHS = tuple(f"{prefix}/messages" for prefix in _PREFIXES)
_API_PREFIXES = (*_PREFIXES, "/admin", *bedrock.PATH_PREFIXES)
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _image_loader(fetcher: ImageFetcher, max_bytes: int) -> Callable[[str], Awaitable[tuple[str, bytes]]]:
    async def load(url: str) -> tuple[str, bytes]:
        try:
            if url[:5].lower() == "data:":
                image = decode_data_url(url, max_bytes=max_bytes)
            else:
                image = await fetcher.fetch(url)
        except MediaError as exc:
            raise InvalidRequest(str(exc), param="messages", code="invalid_image_url") from None
        return image.format, image.data

    return load


def _error_response(request: Request, error: QuarryError) -> Response:
    """Each caller gets errors in its own API's envelope: Anthropic's on its routes and for its clients."""
    exchange_of(request).fail(error)
    path = request.url.path
    if path.startswith(bedrock.PATH_PREFIXES):
        return bedrock.error_response(error)
    if path.startswith(_ANTHROPIC_PATHS) or wants_anthropic(request):
        return anthropic.error_response(error)
    return openai.error_response(error)


def _routing_error(request: Request, error: QuarryError) -> Response:
    """A routing failure (no such path, wrong method): the API's envelope on its paths, plain text off them."""
    if request.url.path.startswith(_API_PREFIXES):
        return _error_response(request, error)
    exchange_of(request).fail(error)
    return PlainTextResponse(error.message, status_code=error.status, headers=error.headers)


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves the path with. Starlette's own 405 names only the first route that matched the
    path, and a path here is often split over several routes (one per method); asking each route whether it fully
    matches the request under each method relies on nothing but the public `matches`."""
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in app.router.routes)
    ]


def _prefixed(prefix: str, route: BaseRoute) -> Route:
    if type(route) is not Route:  # an APIRoute or a mount would need FastAPI's include_router
        raise TypeError(f"{prefix}: only plain Starlette routes are added this way, not {route!r}")
    return Route(
        prefix + route.path,
        route.endpoint,
        methods=list(route.methods or ()),
        name=route.name,
        include_in_schema=route.include_in_schema,
    )


async def _knowledge_bases(settings: Settings, backend: Backend, stack: AsyncExitStack) -> KnowledgeBases | None:
    """The knowledge bases, or None without the kb extra (its routes then say which extra to install)."""
    try:
        from quarry.kb import open_knowledge_bases
    except ImportError:
        return None
    knowledge = open_knowledge_bases(settings, backend.runtime, agent=backend.agent)
    stack.push_async_callback(knowledge.close)
    return knowledge


def _knowledge_router() -> APIRouter:
    try:
        from quarry.api.knowledge import router
    except ImportError as exc:
        missing = exc.name
        router = APIRouter()

        async def unavailable(request: Request) -> Response:
            raise InvalidRequest(f"Knowledge bases need the kb extra ({missing} is missing): pip install 'quarry[kb]'.")

        router.add_route("/knowledge-bases{rest:path}", unavailable, methods=["GET", "POST", "DELETE"])
    return router


_HOME = """Quarry {version}

OpenAI API:     /v1  (chat/completions, embeddings, models)
Anthropic API:  /v1/messages
Health:         /health
Console:        /console  (with the admin key)
API reference:  /docs  (with the API key, if one is set)
Toolbox:        not mounted here (install the `ui` extra: pip install 'quarry[ui]', or see [ui] enabled)
"""


def create_app(
    settings: Settings | None = None,
    *,
    on_ready: Callable[[AppContext], None] | None = None,
    listeners: Sequence[Listener] = (),
) -> FastAPI:
    """The Quarry gateway. Nothing is opened until the lifespan starts (no I/O at import or here); `on_ready` is
    given the app's context once it is built; `listeners` hear of every finished Exchange, after the app's own."""
    settings = settings or Settings()
    # Who listens to finished exchanges (usage, metrics, the access log, then `listeners`) is settled in the
    # lifespan, in this list the middleware holds. They stay registered after the lifespan ends, and are replaced
    # when it starts again: at the shutdown deadline uvicorn cancels the streams still running and runs the
    # lifespan's shutdown before they unwind, and those cut streams must still be counted and logged.
    heard: list[Listener] = []
    tracing = Tracing.configured(settings.tracing)  # None unless an OTLP endpoint is set (then the extra is checked)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, AppContext | Console]]:
        async with AsyncExitStack() as stack:
            backend = await open_backend(settings, stack)
            if tracing is not None:
                tracing.start()
                stack.push_async_callback(tracing.aclose)  # late out: the spans of the shutdown's own work are sent
            metrics, observers = observe(settings, backend.runtime, tracing)
            policy = FetchPolicy(
                max_bytes=settings.images.max_bytes,
                timeout_s=settings.images.timeout_s,
                max_redirects=settings.images.max_redirects,
                allow_hosts=frozenset(settings.images.allow_hosts),
            )
            fetcher = ImageFetcher(policy)
            stack.push_async_callback(fetcher.aclose)
            catalog = ModelCatalog(
                backend.control, settings.models, region=backend.region, ttl_s=settings.bedrock.models_ttl_s
            )
            database = await open_database(settings.database_url, settings.data_dir)
            stack.push_async_callback(database.close)
            await responses.fail_unfinished(database)  # background responses cut by the last stop: failed, not lost
            keys = KeyStore(database)
            limiter: Limiter = RedisLimiter.from_url(settings.redis_url) if settings.redis_url else InProcessLimiter()
            stack.push_async_callback(limiter.aclose)
            ledger = await open_ledger(redis_url=settings.redis_url, database_url=settings.database_url)
            budgets = Budgeter(
                BudgetStore(database),
                ledger,
                database,
                soft=settings.spend.soft_threshold,
                ttl_s=settings.key_cache_ttl_s,
                on_warning=metrics.budget_warning,
            )
            stack.push_async_callback(budgets.aclose)
            durable = settings.usage_durable
            if durable is None:  # where replicas share the database, and one may be killed without warning
                durable = (settings.database_url or "").startswith(("postgresql://", "postgres://"))
            usage = UsageRecorder(database, keys, flush_s=settings.usage_flush_s, durable=durable)
            usage.start()
            stack.push_async_callback(usage.aclose)  # before the database closes: what is queued is written
            admin_key = await bootstrap_key(settings)
            authenticator = KeyAuthenticator(
                keys,
                admin_key,
                ttl_s=settings.key_cache_ttl_s,
                toolbox=toolbox_credentials(settings),  # what the toolbox's signed-in users call with
            )
            aws_credentials = AwsCredentialStore(database, lambda: server_key(settings, SERVER_KEY_PURPOSE))
            services = Services(
                settings=settings,
                runtime=backend.runtime,
                catalog=catalog,
                authenticator=authenticator,
                load_image=_image_loader(fetcher, settings.images.max_bytes),
                limiter=limiter,
                keys=keys,
                on_stream=metrics.stream,
                prices=PriceTable.load(settings.spend.prices_file),
                budgets=budgets,
                key_guardrails=KeyGuardrails(database, ttl_s=settings.key_cache_ttl_s),
                signatures=SigV4Verifier(aws_credentials, authenticator, ttl_s=settings.key_cache_ttl_s),
                tracing=tracing,
            )
            context = AppContext(
                settings=settings,
                backend=backend,
                services=services,
                database=database,
                usage=usage,
                conversations=ConversationStore(database),
                knowledge=await _knowledge_bases(settings, backend, stack),
                metrics=metrics,
                ui_mounted=ui_mounted,
            )
            stack.push_async_callback(context.background.aclose)  # before the database closes
            console = open_console(context, keys, admin_key)
            heard[:] = [usage, *observers, console.observe, *listeners]
            log.info("backend: %s", backend.description)
            if on_ready is not None:
                on_ready(context)
            # Lifespan state: Starlette hands each request a shallow copy, read through `context_of`.
            yield {CONTEXT_KEY: context, CONSOLE_KEY: console}

    # The schema and its page are served below, behind the API's key check: FastAPI's own are open to anyone.
    app = Gateway(
        title="Quarry",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # Quarry's own tracing (a per-app provider, TraceMiddleware) is the one source of spans; FastAPI's would
        # follow any global OpenTelemetry provider, and ask the environment for one on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    add_cors(app, settings.cors)  # inside the Exchange, so preflights get a request id and are logged too
    # Outside CORS, so a refused page gets no CORS headers; inside the Exchange, so refusals are logged.
    guard = HostPolicy.of(settings)
    app.add_middleware(HostGuard, policy=guard, render=_error_response, api_prefixes=_API_PREFIXES)
    if tracing is not None:  # inside the Exchange (its facts name the span), outside the rest (refusals are traced)
        app.add_middleware(TraceMiddleware, tracing=tracing)
    app.add_middleware(ExchangeMiddleware, listeners=heard)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.router.routes.extend(bedrock.routes)  # Bedrock's own paths, at the root and under /bedrock
    app.router.routes.extend(console_routes())  # the operator's console at /console
    knowledge_router = _knowledge_router()
    routers = [
        *(
            (prefix, router)
            for prefix in _PREFIXES
            for router in (
                knowledge_router,
                models_router,
                openai.router,
                responses.router,
                responses.conversation_router,
                anthropic.router,
                conversations.router,
            )
        ),
        ("/admin", admin_router),
        ("/admin", admin_teams_router),
    ]
    # The routers' plain routes, added under their prefixes as top-level routes rather than included: the app's
    # routes are then one flat list, whose hot paths Dispatch serves from a table (server/_dispatch.py).
    for prefix, router in routers:
        app.router.routes.extend(_prefixed(prefix, route) for route in router.routes)
    schema = openapi_document(app.title, app.version, routers, anthropic_paths=_ANTHROPIC_PATHS)

    async def openapi_json(request: Request) -> Response:
        await context_of(request).services.authenticate(request, "openapi")
        return Response(orjson.dumps(schema), media_type="application/json")

    async def docs(request: Request) -> Response:
        await context_of(request).services.authenticate(request, "openapi")
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Quarry API")

    app.add_route("/openapi.json", openapi_json, include_in_schema=False)
    app.add_route("/docs", docs, include_in_schema=False)

    @app.get("/health", include_in_schema=False)
    async def health(request: Request) -> Response:
        backend = context_of(request).backend
        body = {"status": "ok", "version": __version__, "backend": backend.kind, "region": backend.region}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.exception_handler(QuarryError)
    async def quarry_error(request: Request, exc: QuarryError) -> Response:
        return _error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error_response(request, InvalidRequest(f"Invalid request: {exc.errors()[0].get('msg', exc)}"))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return _routing_error(request, NotFound(f"No route for {request.method} {request.url.path}."))
        if exc.status_code == 405:
            allowed = _allowed_methods(app, request)
            return _routing_error(request, MethodNotAllowed(request.method, request.url.path, allowed))
        error = QuarryError(str(exc.detail))
        error.status = exc.status_code
        return _error_response(request, error)

    @app.exception_handler(ClientDisconnect)
    async def client_disconnect(request: Request, exc: ClientDisconnect) -> Response:
        # Whatever read the body when the client went (a JSON body, a multipart upload, a route yet to come): the
        # client's doing, a 499 in the access log and metrics; the catch-all below would make it a logged 500.
        return _error_response(request, ClientDisconnected())

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(request, QuarryError("Quarry failed to handle the request; see the server log."))

    ui_mounted = mount_ui(
        app, settings, credentials=toolbox_credentials(settings)
    )  # read by the lifespan, which runs later

    async def home(_: Request) -> Response:
        # A browser pointed at the address the banner printed finds the toolbox, or what this server offers.
        if ui_mounted:
            return RedirectResponse("/ui/", status_code=307)
        return Response(_HOME.format(version=__version__), media_type="text/plain; charset=utf-8")

    app.add_route("/", home, methods=["GET", "HEAD"], include_in_schema=False)
    return app
