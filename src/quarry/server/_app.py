"""The app factory: one ASGI app, the dialects' routes under /v1 (and /api/v1), state built in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from quarry import __version__
from quarry.api import conversations, openai
from quarry.api._services import Services
from quarry.auth import Authenticator, OpenAccess, StaticKey
from quarry.bedrock import ModelCatalog
from quarry.conversations import SQLiteConversationStore
from quarry.errors import InvalidRequest, NotFound, QuarryError
from quarry.media import FetchPolicy, ImageFetcher, MediaError, decode_data_url
from quarry.server._backend import Backend, open_backend
from quarry.settings import Settings
from quarry.ui import mount_ui

__all__ = ["create_app"]

log = logging.getLogger("quarry")
_PREFIXES = ("/v1", "/api/v1")


def _authenticator(settings: Settings) -> Authenticator:
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    return StaticKey(key) if key else OpenAccess()


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


def create_app(settings: Settings | None = None, *, on_ready: Callable[[Backend], None] | None = None) -> FastAPI:
    """The Quarry gateway. Nothing is opened until the lifespan starts (no I/O at import or here);
    `on_ready` is told which backend is in use once it is."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            backend = await open_backend(settings, stack)
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
            app.state.backend = backend
            app.state.conversations = SQLiteConversationStore(settings.data_dir / "conversations.sqlite3")
            app.state.services = Services(
                settings=settings,
                runtime=backend.runtime,
                catalog=catalog,
                authenticator=_authenticator(settings),
                load_image=_image_loader(fetcher, settings.images.max_bytes),
            )
            log.info("backend: %s", backend.description)
            if on_ready is not None:
                on_ready(backend)
            yield

    app = FastAPI(title="Quarry", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    for prefix in _PREFIXES:
        app.include_router(openai.router, prefix=prefix)
        app.include_router(conversations.router, prefix=prefix)

    @app.get("/health", include_in_schema=False)
    async def health(request: Request) -> Response:
        backend: Backend = request.app.state.backend
        body = {"status": "ok", "version": __version__, "backend": backend.kind, "region": backend.region}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.exception_handler(QuarryError)
    async def quarry_error(request: Request, exc: QuarryError) -> Response:
        return openai.error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return openai.error_response(InvalidRequest(f"Invalid request: {exc.errors()[0].get('msg', exc)}"))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return openai.error_response(NotFound(f"No route for {request.method} {request.url.path}."))
        error = QuarryError(str(exc.detail))
        error.status = exc.status_code
        return openai.error_response(error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return openai.error_response(QuarryError("Quarry failed to handle the request; see the server log."))

    mount_ui(app, settings)
    return app
