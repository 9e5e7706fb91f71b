"""Fallback chains: which models answer a call when the one asked for cannot, tried in order, once for every dialect.

The chain is the model asked for, then `x-quarry-fallbacks` (a request's own list, each model within the key's
scope), else the key's own fallbacks (`quarry keys fallbacks`), else `models.fallbacks` for that name; with
`resilience.global_failover`, a geographic inference profile
(`us.`, `eu.`, …) is followed by the `global.` profile of the same model. A call moves to the next entry on what
another model or region may not suffer: throttling, 5xx, a model not ready, a timeout, an open circuit — and a
prompt over the context window, but only to a model whose window is larger. Never after the first byte has reached
the client: a dialect's `call` returns only once a whole answer is in hand, or a stream's first event (`open_stream`;
a stream silent for longer than the keep-alive interval starts without it, and can then no longer fall back).
The Exchange's `model` becomes the model that answered, so usage, cost and metrics are counted against it, and the
answer carries `x-quarry-model-used`.

Bedrock's own routes (quarry.api.bedrock) have no fallbacks by design: their callers sign for one model id and get
Bedrock's answer byte for byte, errors included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TypeVar

from starlette.requests import Request

from quarry.api._services import Services
from quarry.auth import Principal, may_use_model
from quarry.bedrock import ResolvedModel, deadline_within, is_retryable
from quarry.errors import (
    InvalidRequest,
    ModelNotFound,
    PermissionDenied,
    QuarryError,
    UpstreamError,
    UpstreamTimeout,
)
from quarry.exchange import exchange_of

__all__ = ["FALLBACKS_HEADER", "MODEL_USED_HEADER", "fallback_chain", "open_stream", "with_fallbacks"]

FALLBACKS_HEADER = "x-quarry-fallbacks"
MODEL_USED_HEADER = "x-quarry-model-used"
_MOST_FALLBACKS = 8
# Inference profiles named after a geography; `global.` ones serve from any commercial region (Bedrock user guide,
# "Supported Regions and models for inference profiles"). GovCloud's `us-gov.` has no global counterpart.
_GEOGRAPHIC = ("us.", "eu.", "apac.", "jp.", "au.", "ca.")
# How Bedrock words a prompt over the window (ValidationException: "Input is too long for requested model.") and
# how Anthropic does on the Messages endpoint ("prompt is too long: N tokens > M maximum").
_TOO_LONG = ("input is too long", "prompt is too long", "context window")

T = TypeVar("T")
Event = TypeVar("Event")


async def fallback_chain(
    request: Request, services: Services, principal: Principal, first: ResolvedModel
) -> tuple[ResolvedModel, ...]:
    """The models to try, the one asked for first. A request's `x-quarry-fallbacks` must name models the key may
    use (a 400 or 403 naming the one at fault); configured ones it may not use are left out."""
    header = request.headers.get(FALLBACKS_HEADER)
    explicit = header is not None
    if header is not None:
        names = [name.strip() for name in header.split(",") if name.strip()]
        if len(names) > _MOST_FALLBACKS:
            raise InvalidRequest(
                f"`{FALLBACKS_HEADER}` names at most {_MOST_FALLBACKS} models.", param=FALLBACKS_HEADER
            )
    elif principal.key is not None and principal.key.fallbacks:
        names = list(principal.key.fallbacks)
    else:
        configured = services.settings.models.fallbacks
        names = configured.get(first.requested) or configured.get(first.id) or configured.get(first.base_id) or []
    chain = [first]
    for name in names:
        try:
            model = await services.catalog.resolve(name)
        except ModelNotFound:
            if explicit:
                raise ModelNotFound(
                    f"`{FALLBACKS_HEADER}` names `{name}`, which is not a model here.", param=FALLBACKS_HEADER
                ) from None
            continue
        if not may_use_model(principal, model.requested, model.id, model.base_id):
            if explicit:
                raise PermissionDenied(
                    f"This API key may not use the model `{name}` named in `{FALLBACKS_HEADER}`.",
                    param=FALLBACKS_HEADER,
                    code="model_not_allowed",
                )
            continue
        chain.append(model)
    if services.settings.resilience.global_failover:
        chain = await _with_global_profiles(services, principal, chain)
    unique: dict[str, ResolvedModel] = {}
    for model in chain:
        unique.setdefault(model.id, model)
    return tuple(unique.values())


async def _with_global_profiles(
    services: Services, principal: Principal, chain: list[ResolvedModel]
) -> list[ResolvedModel]:
    """Each geographic profile followed by its model's `global.` profile, where the catalog has one and the key's
    patterns allow it (a key held to `us.*` for data residency never leaves its geography)."""
    extended: list[ResolvedModel] = []
    for model in chain:
        extended.append(model)
        if not model.id.startswith(_GEOGRAPHIC):
            continue
        try:
            profile = await services.catalog.resolve("global." + model.base_id)
        except ModelNotFound:
            continue
        if profile.id.startswith("global.") and may_use_model(principal, profile.id, profile.base_id):
            extended.append(profile)
    return extended


def _too_long(error: QuarryError) -> bool:
    return isinstance(error, InvalidRequest) and any(words in error.message.lower() for words in _TOO_LONG)


def moves_on(error: QuarryError) -> bool:
    """Whether another model (or region) may answer where this one failed."""
    if is_retryable(error) or isinstance(error, UpstreamTimeout):
        return True
    return _too_long(error) or (type(error) is UpstreamError and error.code in ("ModelErrorException", None))


def _deadline_s(request: Request, services: Services) -> float:
    """The call's allowance for retries and fallbacks: the setting, shortened by the client's own timeout where its
    SDK states it: seconds, in `x-stainless-timeout` (anthropic-python's `_build_headers`) or
    `x-stainless-read-timeout` (openai-python's; anthropic-python sends both)."""
    deadline = services.settings.resilience.deadline_s
    stated = request.headers.get("x-stainless-timeout") or request.headers.get("x-stainless-read-timeout")
    try:
        client = float(stated) if stated else None
    except ValueError:
        client = None
    return min(deadline, client) if client and client > 0 else deadline


async def with_fallbacks(
    request: Request,
    services: Services,
    chain: tuple[ResolvedModel, ...],
    call: Callable[[ResolvedModel], Awaitable[T]],
) -> T:
    """`call` with each model of the chain in turn until one answers; the last error when none does."""
    exchange = exchange_of(request)
    exchange.model_asked = chain[0].id
    failed: ResolvedModel | None = None
    last: QuarryError | None = None
    with deadline_within(_deadline_s(request, services)):
        for model in chain:
            if last is not None and failed is not None and _too_long(last) and not _larger(model, failed):
                continue  # a prompt over one window goes only to a larger one
            exchange.model = model.id
            try:
                answer = await call(model)
            except QuarryError as error:
                if not moves_on(error) or model is chain[-1]:
                    raise
                failed, last = model, error
                continue
            exchange.headers[MODEL_USED_HEADER] = model.id
            return answer
    assert last is not None  # the loop returns or raises unless every later model was skipped
    raise last


def _larger(model: ResolvedModel, than: ResolvedModel) -> bool:
    window, failed = model.facts.context_window, than.facts.context_window
    return window is None or failed is None or window > failed


async def open_stream(
    resources: AsyncExitStack, opener: AbstractAsyncContextManager[AsyncIterator[Event]], *, wait_s: float
) -> AsyncIterator[Event]:
    """Open an upstream stream and wait up to `wait_s` (the keep-alive interval) for its first event, so a throttle
    in its first frame still moves to the next model (nothing has reached the client yet); then hand the stream to
    `resources`, which close it with the response. A stream that fails here is closed at once. One whose first event
    takes longer starts anyway: its client gets keep-alives while the model thinks, and that stream can no longer
    fall back."""
    attempt = AsyncExitStack()
    try:
        events = await attempt.enter_async_context(opener)
        first = asyncio.ensure_future(_first(events))
        await asyncio.wait({first}, timeout=wait_s)
        if first.done():
            first.result()  # raises what the first frame was
    except BaseException:
        await attempt.aclose()
        raise
    resources.push_async_callback(attempt.aclose)
    resources.callback(first.cancel)  # run before the close above: a response that never read its stream
    return _Replayed(first, events)


async def _first(events: AsyncIterator[Event]) -> Event | None:
    return await anext(events, None)


class _Replayed(AsyncIterator[Event]):
    """The stream's first event, read ahead by `open_stream`, then the rest straight from the stream: after the
    first, `__anext__` hands over the stream's own, so no async generator of ours sits between the stream and its
    reader (each level costs a resume per event)."""

    __slots__ = ("_events", "_first")

    def __init__(self, first: asyncio.Future[Event | None], events: AsyncIterator[Event]) -> None:
        self._first: asyncio.Future[Event | None] | None = first
        self._events = events

    def __anext__(self) -> Awaitable[Event]:
        first = self._first
        if first is None:
            return self._events.__anext__()
        self._first = None
        return self._take(first)

    @staticmethod
    async def _take(first: asyncio.Future[Event | None]) -> Event:
        try:
            event = await first
        finally:
            first.cancel()  # the response ended (or its client left) before the first event came
        if event is None:  # the stream ended without an event: so has the stream's iterator
            raise StopAsyncIteration
        return event
