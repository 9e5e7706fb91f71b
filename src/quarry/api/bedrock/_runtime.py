"""bedrock-runtime's operations relayed: Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream,
CountTokens and the Messages endpoint. The caller's body goes to Bedrock as sent (only a Quarry alias in it is
replaced by its Bedrock id), after the key's scopes and limits admitted it; the answer comes back as Bedrock gave it,
streams frame by frame, with the usage read on the way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from quarry.api._context import context_of
from quarry.api._core import MessagesGuard, bedrock_tier, output_reserve, refusal_message, refusal_sse, sse_events
from quarry.api._estimate import estimate_tokens
from quarry.api._services import Services
from quarry.api.bedrock._guardrail import guarded_call
from quarry.api.bedrock._service_tier import asked_tier, with_tier
from quarry.api.bedrock._usage import StreamUsage, note_answer
from quarry.auth import Principal, is_sigv4
from quarry.bedrock import Frame, Relayed, ResolvedModel, model_path, relay, split_events
from quarry.errors import InvalidRequest, PayloadTooLarge, QuarryError
from quarry.exchange import Exchange, exchange_of

__all__ = ["MESSAGES_PATH", "OPERATIONS", "messages", "read_body", "runtime_operation"]

MESSAGES_PATH = "/anthropic/v1/messages"
# The path's operation → (the API name the Exchange records, whether Bedrock answers with an event stream).
OPERATIONS: dict[str, tuple[str, bool]] = {
    "converse": ("bedrock.converse", False),
    "converse-stream": ("bedrock.converse_stream", True),
    "invoke": ("bedrock.invoke_model", False),
    "invoke-with-response-stream": ("bedrock.invoke_model_with_response_stream", True),
    "count-tokens": ("bedrock.count_tokens", False),
}


async def read_body(request: Request, limit: int) -> bytes:
    """The body as sent (InvokeModel's need not be JSON), up to `limit` bytes."""
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
    except ClientDisconnect:
        raise InvalidRequest("The client disconnected before the whole request body arrived.") from None
    return bytes(body)


def _decoded(body: bytes) -> dict[str, Any]:
    """The body as JSON, for estimating its tokens; {} when it is something else (Bedrock judges it)."""
    try:
        value = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _asked_output(body: dict[str, Any]) -> int | None:
    config = body.get("inferenceConfig")
    asked = config.get("maxTokens") if isinstance(config, dict) else body.get("max_tokens")
    return asked if isinstance(asked, int) else None


async def _read(request: Request, api: str) -> tuple[Services, Principal, bytes]:
    """The caller and the body: a bearer key is checked before the body is read, a SigV4 signature (which covers
    the body) once it is."""
    services = context_of(request).services
    if is_sigv4(request.headers.get("authorization")):
        body = await read_body(request, services.settings.max_body_bytes)
        return services, await services.authenticate_signed(request, api, body), body
    principal = await services.authenticate(request, api)
    return services, principal, await read_body(request, services.settings.max_body_bytes)


async def _admit(
    request: Request,
    services: Services,
    principal: Principal,
    body: dict[str, Any],
    name: str,
    *,
    stream: bool,
    asked_tier: str | None = None,
) -> tuple[ResolvedModel, str | None]:
    """The model resolved and the call admitted (scopes, limits, the budget at the service tier asked, else the
    operator's for the model) before Bedrock sees it; the model and that tier."""
    model = await services.catalog.resolve(name)
    exchange = exchange_of(request)
    exchange.model, exchange.stream = model.id, stream
    counting = exchange.api == "bedrock.count_tokens"
    tokens = 0 if counting else estimate_tokens(body, output_reserve(model, _asked_output(body)))
    tier = None if counting else asked_tier or bedrock_tier(None, services.settings.models, model)
    await services.admit(request, principal, model, tokens, service_tier=tier)
    return model, tier


async def runtime_operation(request: Request, model_id: str, operation: str) -> Response:
    """POST /model/{modelId}/{operation}."""
    api, streaming = OPERATIONS[operation]
    services, principal, body = await _read(request, api)
    decoded = _decoded(body)
    asked = asked_tier(operation, decoded, request.headers)
    model, tier = await _admit(request, services, principal, decoded, model_id, stream=streaming, asked_tier=asked)
    # CountTokens names the foundation model, even for a model served through inference profiles.
    upstream = model.base_id if operation == "count-tokens" and not model.id.startswith("arn:") else model.id
    path = model_path(upstream, operation)
    exchange = exchange_of(request)
    headers: Mapping[str, str] = request.headers
    if operation != "count-tokens" and (guardrail := await services.guardrail(principal, model)) is not None:
        body, headers = guarded_call(operation, body, decoded, headers, guardrail)
        decoded = _decoded(body) if operation in ("converse", "converse-stream") else decoded
    if asked is None and tier is not None:
        body, headers = with_tier(operation, body, decoded, headers, tier)
    if not streaming:
        async with relay(services.runtime, path, body, headers, stream=False) as relayed:
            return _whole(exchange, operation, relayed, await relayed.read())
    tap = StreamUsage(exchange)
    return await _streamed(request, services, path, body, lambda _, frames: tap.frames(frames), headers=headers)


async def messages(request: Request) -> Response:
    """POST /anthropic/v1/messages: Bedrock's Messages endpoint, the model named in the body."""
    services, principal, body = await _read(request, "bedrock.messages")
    decoded = _decoded(body)
    name = decoded.get("model")
    if not isinstance(name, str):
        raise InvalidRequest("model: Field required")
    stream = decoded.get("stream") is True
    asked = asked_tier("messages", decoded, request.headers)
    model, tier = await _admit(request, services, principal, decoded, name, stream=stream, asked_tier=asked)
    # Bedrock's Messages endpoint takes no guardrail: ApplyGuardrail judges the conversation before it, and the
    # answer after it, whole or streamed (as the Anthropic dialect's Messages path does; docs/guardrails.md).
    guardrail = await services.guardrail(principal, model)
    guard = MessagesGuard(services.runtime, guardrail) if guardrail is not None else None
    if guard is not None and (verdict := await guard.check_input(decoded)).intervened:
        if stream:
            return Response(refusal_sse(name, verdict), media_type="text/event-stream")
        return Response(orjson.dumps(refusal_message(name, verdict)), media_type="application/json")
    if model.id != name:  # a Quarry alias or an Anthropic name: Bedrock takes its own id
        body = orjson.dumps(decoded | {"model": model.id})
    headers: Mapping[str, str] = request.headers
    if asked is None and tier is not None:
        body, headers = with_tier("messages", body, decoded, headers, tier)
    exchange = exchange_of(request)
    if not stream:
        async with relay(services.runtime, MESSAGES_PATH, body, headers, stream=False) as relayed:
            answer = await relayed.read()
            if guard is not None and relayed.status < 300 and not _encoded(relayed.headers):
                answer = orjson.dumps(await guard.check_message(orjson.loads(answer)))
            return _whole(exchange, "messages", relayed, answer)
    tap = StreamUsage(exchange)
    return await _streamed(
        request,
        services,
        MESSAGES_PATH,
        body,
        lambda chunk, _: tap.sse(chunk),
        framed=False,
        headers=headers,
        guard=guard,
    )


def _encoded(headers: Mapping[str, str]) -> bool:
    """Whether a relayed body is compressed (the runtime's pool does not decompress), so not JSON to judge."""
    return any(name.lower() == "content-encoding" and value != "identity" for name, value in headers.items())


def _whole(exchange: Exchange, operation: str, relayed: Relayed, body: bytes) -> Response:
    if relayed.status < 300:
        note_answer(exchange, operation, body, relayed.headers)
    else:
        # Bedrock's own error, relayed as it came: its name is the Exchange's error type.
        named = {name.lower(): value for name, value in relayed.headers.items()}.get("x-amzn-errortype", "")
        exchange.error_type = named.split(":", 1)[0] or f"HTTP {relayed.status}"
    return Response(body, relayed.status, relayed.headers)


async def _streamed(
    request: Request,
    services: Services,
    path: str,
    body: bytes,
    tap: Callable[[bytes, list[Frame]], None],
    *,
    framed: bool = True,
    headers: Mapping[str, str] | None = None,
    guard: MessagesGuard | None = None,
) -> Response:
    """The stream opened before the response starts (so a refusal is a proper HTTP error), then relayed as it
    arrives; the upstream request is closed when the caller goes away. A `guard` (the Messages endpoint's
    server-sent events only) judges the answer's text as it ends, holding what its stream processing mode holds."""
    resources = AsyncExitStack()
    sent = request.headers if headers is None else headers
    relayed = await resources.enter_async_context(relay(services.runtime, path, body, sent, stream=True))
    exchange = exchange_of(request)
    if relayed.status >= 300:
        async with resources:
            return _whole(exchange, "stream", relayed, await relayed.read())

    async def chunks() -> AsyncIterator[bytes]:
        try:
            if guard is None:
                async for chunk, frames in relayed.chunks(framed=framed):
                    tap(chunk, frames)
                    yield chunk
                return
            raw = (chunk async for chunk, _ in relayed.chunks(framed=False))
            async for event in guard.stream(split_events(raw), sse_events):
                tap(event.raw, [])
                yield event.raw
        except QuarryError as error:  # the stream broke off: the caller sees it end early, the Exchange says why
            exchange.fail(error)

    return _Relay(chunks(), relayed, resources, services)


class _Relay(StreamingResponse):
    """Bedrock's stream relayed with its own status and headers; the upstream answer is always released, even if
    the response never starts, and the active-streams gauge follows it."""

    def __init__(
        self, content: AsyncIterator[bytes], relayed: Relayed, resources: AsyncExitStack, services: Services
    ) -> None:
        super().__init__(content, relayed.status, relayed.headers)
        self._resources = resources
        self._on_stream = services.on_stream

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._on_stream is not None:
            self._on_stream(1)
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._on_stream is not None:
                self._on_stream(-1)
            await self._resources.aclose()
