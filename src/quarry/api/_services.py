"""What the dialects need from the running server, gathered on `app.state.services` by the app factory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request

from quarry.api._exchange import exchange_of
from quarry.api._sse import StreamHook
from quarry.auth import Authenticator, Principal, bearer_token
from quarry.bedrock import BedrockRuntime, ModelCatalog
from quarry.settings import Settings

__all__ = ["Services", "services_of"]


@dataclass(slots=True)
class Services:
    settings: Settings
    runtime: BedrockRuntime
    catalog: ModelCatalog
    authenticator: Authenticator
    load_image: Callable[[str], Awaitable[tuple[str, bytes]]]  # url → (format, bytes); raises InvalidRequest
    on_stream: StreamHook | None = None  # given to every SSE response (the active streams gauge)

    async def authenticate(self, request: Request, api: str = "") -> Principal:
        """The caller, from `Authorization: Bearer` (or `x-api-key`, as Anthropic's clients send it); noted on the
        request's Exchange with the API being called."""
        exchange = exchange_of(request)
        exchange.api = api
        token = bearer_token(request.headers.get("authorization")) or request.headers.get("x-api-key")
        principal = await self.authenticator.authenticate(token)
        exchange.key_id, exchange.key_name = principal.key_id, principal.name
        return principal


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
