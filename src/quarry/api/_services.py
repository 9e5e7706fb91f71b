"""What the dialects need from the running server on every call, built by the app's lifespan into its `AppContext`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.requests import Request

from quarry.api._core import BoundedLoader, ImageLimits
from quarry.api._sse import KEEPALIVE_COMMENT, Render, RenderError, SSEResponse, StreamHook, relay
from quarry.auth import (
    Authenticator,
    Budgeter,
    InProcessLimiter,
    KeyGuardrails,
    KeyStore,
    Limiter,
    Principal,
    Reservation,
    SigV4Verifier,
    bearer_token,
    may_use_model,
)
from quarry.bedrock import BedrockRuntime, ModelCatalog, ResolvedModel
from quarry.errors import AuthenticationFailed, PermissionDenied
from quarry.exchange import Exchange, exchange_of
from quarry.observability import Tracing, traced
from quarry.settings import GuardrailSettings, Settings
from quarry.spend import PriceTable

__all__ = ["Services"]

Event = TypeVar("Event")


@dataclass(slots=True)
class Services:
    settings: Settings
    runtime: BedrockRuntime
    catalog: ModelCatalog
    authenticator: Authenticator
    load_image: Callable[[str], Awaitable[tuple[str, bytes]]]  # url → (format, bytes); raises InvalidRequest
    limiter: Limiter = field(default_factory=InProcessLimiter)
    keys: KeyStore | None = None
    on_stream: StreamHook | None = None  # given to every SSE response (the active streams gauge)
    prices: PriceTable | None = None  # what calls cost (None: costs are not counted)
    budgets: Budgeter | None = None  # team keys' budgets (None: not enforced)
    key_guardrails: KeyGuardrails | None = None  # team keys' own guardrails (None: only the settings' apply)
    signatures: SigV4Verifier | None = None  # SigV4 with the AWS credentials issued for team keys (Bedrock routes)
    tracing: Tracing | None = None  # admission spans (None: tracing is off)
    _settling: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Every dialect hands `load_image` to its request's Media: the settings' per-request image limits go with it.
        if not isinstance(self.load_image, BoundedLoader):
            images = self.settings.images
            limits = ImageLimits(images.max_per_request, images.max_total_bytes, images.fetch_concurrency)
            self.load_image = BoundedLoader(self.load_image, limits)

    def check_scope(self, principal: Principal, model: ResolvedModel) -> None:
        """PermissionDenied unless the caller's key may use the model."""
        if not may_use_model(principal, model.requested, model.id, model.base_id):
            raise PermissionDenied(
                f"This API key may not use the model `{model.requested}`.", param="model", code="model_not_allowed"
            )

    async def admit(
        self,
        request: Request,
        principal: Principal,
        model: ResolvedModel,
        tokens: int,
        *,
        max_output: int | None = None,
        fallbacks: Sequence[ResolvedModel] = (),
        service_tier: str | None = None,
    ) -> None:
        """Check the key's model scopes and take its rate limits for this call (released when the call is over,
        with the real token count); raises PermissionDenied or RateLimited. Called before any upstream call, so a
        refused request costs nothing at Bedrock. `tokens` is the estimate, `max_output` the part of it that is
        output (unknown: every token is priced at the dearest rate). `fallbacks`, the models of the call's fallback
        chain after `model`, may answer instead: the budget reservation covers the dearest of them. `service_tier`,
        the Bedrock tier asked for (None: the standard one), prices the reservation, and stands as the tier of the
        call until Bedrock's answer names the one that served it."""
        exchange = exchange_of(request)
        exchange.model_requested = model.requested  # the request log shows asked beside used
        exchange.max_tokens = max_output
        exchange.service_tier = service_tier
        with traced(self.tracing, "quarry.admit", {"gen_ai.request.model": model.id}):
            await self._admit(request, principal, model, tokens, max_output, fallbacks)

    async def _admit(
        self,
        request: Request,
        principal: Principal,
        model: ResolvedModel,
        tokens: int,
        max_output: int | None,
        fallbacks: Sequence[ResolvedModel],
    ) -> None:
        self.check_scope(principal, model)
        await self.limit(request, principal, tokens)
        if self.prices is None:
            return
        exchange = exchange_of(request)
        exchange.pricer, exchange.guardrail_pricer = self.prices.cost, self.prices.guardrail_cost
        ids = [model.id, *(m.id for m in fallbacks)]
        most = _dearest(self.prices, ids, *_split(tokens, max_output), exchange.service_tier)
        if most is not None:
            exchange.headers["x-quarry-cost-max-usd"] = f"{most:.6f}"
        if self.budgets is not None and principal.key is not None:
            reservation = await self.budgets.reserve(principal.key.id, model.requested, most, tokens)
            if reservation is not None:
                exchange.headers.update(reservation.headers())
                budgets = self.budgets
                exchange.on_close.append(lambda done: self._settle(budgets, reservation, done))

    def _settle(self, budgets: Budgeter, reservation: Reservation, done: Exchange) -> None:
        """Settle a budget reservation with what the call cost, off the request path."""
        tokens = done.input_tokens + done.output_tokens + done.cache_read_tokens + done.cache_write_tokens
        task = asyncio.create_task(budgets.settle(reservation, done.cost(), tokens))
        self._settling.add(task)  # held until done: a task nobody references can vanish mid-flight
        task.add_done_callback(self._settling.discard)

    async def guardrail(self, principal: Principal, model: ResolvedModel) -> GuardrailSettings | None:
        """The Bedrock guardrail for this caller and model: the key's own, else the settings' for the model."""
        if self.key_guardrails is not None and principal.key is not None:
            own = await self.key_guardrails.cached(principal.key.id)
            if own is not None:
                return own
        return self.settings.guardrails.for_model(model.requested, model.id, model.base_id)

    async def limit(self, request: Request, principal: Principal, tokens: int) -> None:
        """Take the key's rate limits for a call that names no model (listing models, searching or filling a
        knowledge base): a request, `tokens` and a concurrency slot, released when the call is over."""
        key = principal.key
        if key is None or not key.limits:
            return
        grant = await self.limiter.acquire(key.id, key.limits, tokens)
        exchange = exchange_of(request)
        exchange.headers.update(grant.headers())

        def settle(done: Exchange) -> None:
            used = done.input_tokens + done.output_tokens + done.cache_read_tokens + done.cache_write_tokens
            task = asyncio.create_task(self.limiter.release(grant, used))
            self._settling.add(task)  # held until done: a task nobody references can vanish mid-flight
            task.add_done_callback(self._settling.discard)

        exchange.on_close.append(settle)

    def stream(
        self,
        request: Request,
        resources: AsyncExitStack,
        events: AsyncIterator[Event],
        render: Render[Event],
        *,
        finish: Callable[[], bytes],
        render_error: RenderError,
        keepalive: bytes = KEEPALIVE_COMMENT,
    ) -> SSEResponse:
        """The SSE response for upstream events, with the server's keep-alive interval and stream hook; a failure
        mid-stream is noted on the request's Exchange."""
        sse = relay(
            events,
            render,
            finish=finish,
            render_error=exchange_of(request).failing(render_error),
            keepalive_s=self.settings.keepalive_s,
            keepalive=keepalive,
        )
        return SSEResponse(sse, resources, on_stream=self.on_stream)

    async def authenticate(self, request: Request, api: str = "") -> Principal:
        """The caller, from `Authorization: Bearer` (or `x-api-key`, as Anthropic's clients send it); noted on the
        request's Exchange with the API being called."""
        exchange = exchange_of(request)
        exchange.api = api
        token = bearer_token(request.headers.get("authorization")) or request.headers.get("x-api-key")
        with traced(self.tracing, "quarry.authenticate"):
            principal = await self.authenticator.authenticate(token)
        exchange.key_id, exchange.key_name = principal.key_id, principal.name
        return principal

    async def authenticate_signed(self, request: Request, api: str, body: bytes) -> Principal:
        """The caller of a SigV4-signed request, its signature verified over the path and query as they arrived,
        the headers and the body; noted on the request's Exchange as `authenticate` does."""
        exchange = exchange_of(request)
        exchange.api = api
        if self.signatures is None:
            raise AuthenticationFailed("This server takes no SigV4 signatures: send a Quarry key as a bearer token.")
        raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
        query: bytes = request.scope.get("query_string", b"")
        target = raw if b"?" in raw or not query else raw + b"?" + query
        with traced(self.tracing, "quarry.authenticate", {"quarry.auth": "sigv4"}):
            principal = await self.signatures.verify(
                request.method, target.decode("latin-1"), request.headers.items(), body
            )
        exchange.key_id, exchange.key_name = principal.key_id, principal.name
        return principal


def _split(tokens: int, max_output: int | None) -> tuple[int, int]:
    """(input, output) of an estimate; an unknown split is taken at its dearest (all input and all output)."""
    if max_output is None:
        return tokens, tokens
    return max(0, tokens - max_output), max_output


def _dearest(
    prices: PriceTable, model_ids: list[str], input_tokens: int, output_tokens: int, tier: str | None
) -> float | None:
    """The most the call can cost on whichever model answers, at the tier asked; None when none has a price."""
    if len(model_ids) == 1:  # no fallbacks: most calls
        return prices.maximum(model_ids[0], input_tokens, output_tokens, tier)
    known = [m for m in (prices.maximum(i, input_tokens, output_tokens, tier) for i in model_ids) if m is not None]
    return max(known, default=None)
