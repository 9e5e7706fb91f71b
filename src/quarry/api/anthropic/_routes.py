"""The Anthropic-compatible endpoints: `/v1/messages` (whole and streamed) and `/v1/messages/count_tokens`.

Three paths, by the model: Claude models Bedrock serves on its Messages endpoint (Opus 4.7 and later) get the
caller's request forwarded as written (`_passthrough`); older Claude models go through InvokeModel with Anthropic's
own body, so every Claude feature keeps its fidelity (`_native`); other models go through Converse, translated both
ways (`_converse`). Every answer names the model the caller asked for.
"""

from __future__ import annotations

import base64
from contextlib import AsyncExitStack
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._body import json_body, read_json, read_model
from quarry.api._context import services_of
from quarry.api._core import (
    ANTHROPIC_SERVICE_TIERS,
    GuardrailVerdict,
    MessagesGuard,
    Usage,
    anthropic_tier_name,
    bedrock_tier,
    dict_events,
    fold_system_messages,
    guard_converse,
    refusal_events,
    refusal_message,
    set_service_tier,
    sse_events,
    top_level_system,
)
from quarry.api._estimate import estimate_tokens
from quarry.api._exchange import noted, watch_anthropic, watch_messages
from quarry.api._fallbacks import fallback_chain, open_stream, with_fallbacks
from quarry.api._published import answers
from quarry.api._responses import json_response
from quarry.api._services import Services
from quarry.api.anthropic._answers import AnthropicMessage, TokenCount
from quarry.api.anthropic._converse import StreamWriter, converse_request, to_message
from quarry.api.anthropic._errors import error_event
from quarry.api.anthropic._native import PING, betas, inline_image_urls, native_body, sse_renderer
from quarry.api.anthropic._passthrough import EchoModel, fallback_betas, upstream_body, upstream_headers
from quarry.api.anthropic._schemas import CountTokensRequest, Envelope, MessagesRequest
from quarry.auth import Principal
from quarry.bedrock import (
    ConverseRequest,
    ConverseTokensRequest,
    CountTokensInput,
    MessagesBody,
    ResolvedModel,
    ServiceTierType,
    tier_header,
)
from quarry.exchange import exchange_of
from quarry.settings import GuardrailSettings

__all__ = ["router"]


def _is_claude(model: ResolvedModel) -> bool:
    return model.base_id.startswith("anthropic.claude")


async def _native_body(request: Request, services: Services, model: ResolvedModel, raw: dict[str, Any]) -> MessagesBody:
    accepted = services.settings.models.anthropic_betas
    flags = betas(request.headers.get("anthropic-beta"), raw.get("anthropic_beta"), accepted)
    return await native_body(raw, flags, model.facts, services.load_image)


def _carried_system_messages(raw: dict[str, Any], model: ResolvedModel) -> dict[str, Any]:
    """The request with its mid-conversation system messages in the form the model takes: as they are for a model
    that takes them (on InvokeModel), else folded into the neighbouring user turns (api._core)."""
    messages = raw.get("messages")
    if not isinstance(messages, list) or not any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
        return raw
    if _is_claude(model) and model.facts.system_messages:
        return raw
    folded, leftover = fold_system_messages([m if isinstance(m, dict) else {} for m in messages])
    carried = raw | {"messages": folded}
    if leftover:
        carried["system"] = top_level_system(raw.get("system"), leftover)
    return carried


def _countable(converse: ConverseRequest) -> ConverseTokensRequest:
    """What CountTokens takes of a Converse request: not inferenceConfig, which adds no input tokens."""
    counted: ConverseTokensRequest = {"messages": converse.get("messages", [])}
    if "system" in converse:
        counted["system"] = converse["system"]
    if "toolConfig" in converse:
        counted["toolConfig"] = converse["toolConfig"]
    return counted


@json_body(MessagesRequest)
@answers(AnthropicMessage, streams=True)
async def messages(request: Request) -> Response:
    services = services_of(request)
    exchange = exchange_of(request)
    principal = await services.authenticate(request, "messages")
    raw = await read_json(request, services.settings.max_body_bytes)
    envelope = read_model(raw, Envelope)
    model = await services.catalog.resolve(envelope.model)
    exchange.model, exchange.stream = model.id, envelope.stream
    chain = await fallback_chain(request, services, principal, model)  # before admission: its reservation covers it
    asked = ANTHROPIC_SERVICE_TIERS[envelope.service_tier or "auto"]
    tier = bedrock_tier(asked, services.settings.models, model)
    if model.facts.messages_api:
        tokens = estimate_tokens(raw, envelope.max_tokens or 0)
        await services.admit(request, principal, model, tokens, fallbacks=chain[1:], service_tier=tier)
    else:
        carried = _carried_system_messages(raw, model)
        body = read_model(carried, MessagesRequest)
        tokens = estimate_tokens(carried, body.max_tokens)
        await services.admit(
            request, principal, model, tokens, max_output=body.max_tokens, fallbacks=chain[1:], service_tier=tier
        )
    # A stream is opened (and its first event read) before the response starts, so a refusal or throttle is still a
    # proper HTTP error, retried or answered by the chain's next model; the exit stack then closes it when the
    # response ends, however it ends.
    resources = AsyncExitStack()
    return await with_fallbacks(
        request,
        services,
        chain,
        lambda candidate: _answer(request, services, principal, candidate, raw, envelope, resources, asked),
    )


async def _answer(
    request: Request,
    services: Services,
    principal: Principal,
    model: ResolvedModel,
    raw: dict[str, Any],
    envelope: Envelope,
    resources: AsyncExitStack,
    asked: ServiceTierType | None,
) -> Response:
    """The answer of one model of the chain, by the path that model takes, under that model's guardrail and at the
    service tier asked (`asked`, None: the operator's for that model, else Bedrock's default)."""
    guardrail = await services.guardrail(principal, model)
    exchange = exchange_of(request)
    tier = exchange.service_tier = bedrock_tier(asked, services.settings.models, model)
    if model.facts.messages_api:
        return await _forwarded(request, services, model, raw, envelope, resources, guardrail, tier)
    raw = _carried_system_messages(raw, model)
    body = read_model(raw, MessagesRequest)
    runtime = services.runtime
    if _is_claude(model):
        guard = MessagesGuard(runtime, guardrail) if guardrail is not None else None
        if guard is not None and (verdict := await guard.check_input(raw)).intervened:
            return _refused(request, services, body.model, verdict, stream=body.stream)
        native = await _native_body(request, services, model, raw)
        if not body.stream:
            message = await runtime.invoke_claude(model.id, native, service_tier=tier)
            exchange.note_usage(Usage.from_messages(message.get("usage")).counts())
            if "usage" in message:
                message["usage"]["service_tier"] = anthropic_tier_name(exchange.service_tier)
            if guard is not None:
                message = await guard.check_message(message)
            return json_response(message | {"model": body.model})
        claude_events = await open_stream(
            resources,
            runtime.invoke_claude_stream(model.id, native, service_tier=tier),
            wait_s=services.settings.keepalive_s,
        )
        watched = watch_anthropic(claude_events, exchange)
        return services.stream(
            request,
            resources,
            guard.stream(watched, dict_events) if guard is not None else watched,
            sse_renderer(body.model, anthropic_tier_name(exchange.service_tier)),  # the stream's answer named it
            finish=lambda: b"",
            render_error=error_event,
            keepalive=PING,
        )
    converse = await converse_request(body, model, services.load_image)
    guard_converse(converse, guardrail, stream=body.stream)
    set_service_tier(converse, tier)
    if not body.stream:
        answer = await runtime.converse(model.id, converse)
        exchange.note_usage(Usage.from_converse(answer.get("usage")).counts())
        return json_response(to_message(answer, body, tier))
    events = await open_stream(
        resources, runtime.converse_stream(model.id, converse), wait_s=services.settings.keepalive_s
    )
    writer = StreamWriter(body, tier)
    return services.stream(
        request,
        resources,
        events,
        noted(writer.event, exchange),
        finish=writer.finish,
        render_error=error_event,
        keepalive=PING,
    )


async def _forwarded(
    request: Request,
    services: Services,
    model: ResolvedModel,
    raw: dict[str, Any],
    envelope: Envelope,
    resources: AsyncExitStack,
    guardrail: GuardrailSettings | None,
    tier: str | None,
) -> Response:
    """A request for Bedrock's Messages endpoint (admitted already), forwarded as the caller wrote it; the service
    tier goes as InvokeModel's header (the endpoint is outside Bedrock's service model: unverified there)."""
    exchange = exchange_of(request)
    guard = MessagesGuard(services.runtime, guardrail) if guardrail is not None else None
    if guard is not None and (verdict := await guard.check_input(raw)).intervened:
        return _refused(request, services, envelope.model, verdict, stream=bool(envelope.stream))
    # The one change besides `model`: image URLs made base64 (Bedrock takes no URL sources), as on the older path.
    await inline_image_urls(raw.get("messages"), services.load_image)
    body, headers = upstream_body(raw, model), upstream_headers(request) | (tier_header(tier) or {})
    echo = EchoModel(envelope.model, lambda: anthropic_tier_name(exchange.service_tier))
    fallback = fallback_betas(request, services.settings.models.anthropic_betas)
    runtime = services.runtime
    if not envelope.stream:
        message = await runtime.messages(body, headers, fallback_betas=fallback, model_id=model.id)
        exchange.note_usage(Usage.from_messages(message.get("usage")).counts())
        if guard is not None:
            message = await guard.check_message(message)
        return json_response(echo.message(message))
    upstream = runtime.messages_stream(body, headers, fallback_betas=fallback, model_id=model.id)
    events = await open_stream(resources, upstream, wait_s=services.settings.keepalive_s)
    watched = watch_messages(events, exchange)
    return services.stream(
        request,
        resources,
        guard.stream(watched, sse_events) if guard is not None else watched,
        echo,
        finish=lambda: b"",
        render_error=error_event,
        keepalive=PING,
    )


def _refused(request: Request, services: Services, model: str, verdict: GuardrailVerdict, *, stream: bool) -> Response:
    """The answer to a conversation the guardrail refused as input (no model was asked): Anthropic's refusal."""
    if not stream:
        return json_response(refusal_message(model, verdict))
    return services.stream(
        request,
        AsyncExitStack(),
        refusal_events(model, verdict),
        sse_renderer(model),
        finish=lambda: b"",
        render_error=error_event,
        keepalive=PING,
    )


@json_body(CountTokensRequest)
@answers(TokenCount)
async def count_tokens(request: Request) -> Response:
    services = services_of(request)
    principal = await services.authenticate(request, "messages.count_tokens")
    raw = await read_json(request, services.settings.max_body_bytes)
    body = read_model(raw, CountTokensRequest)
    model = await services.catalog.resolve(body.model)
    exchange_of(request).model = model.id
    carried = _carried_system_messages(raw, model)
    if carried is not raw:
        raw, body = carried, read_model(carried, CountTokensRequest)
    # Counting is free but, as at Anthropic, subject to the requests-per-minute limit ("Pricing and rate limits",
    # https://docs.anthropic.com/en/docs/build-with-claude/token-counting): it takes a request, and no tokens, so a
    # key over its limits does not reach Bedrock's CountTokens either.
    await services.admit(request, principal, model, 0, max_output=0)
    if _is_claude(model):
        # Bedrock's Messages endpoint does not count tokens (docs/bedrock-models-2026.md §3, §8.3): every Claude
        # model, on that endpoint or not, is counted by CountTokens over its InvokeModel body.
        # The InvokeModel body needs a max_tokens, above any thinking budget; it does not change the count.
        budget = (body.thinking or {}).get("budget_tokens")
        native = await _native_body(request, services, model, raw | {"max_tokens": int(budget or 0) + 1})
        shape: CountTokensInput = {"invokeModel": {"body": base64.b64encode(orjson.dumps(native)).decode()}}
    else:
        converse = await converse_request(body, model, services.load_image)
        shape = {"converse": _countable(converse)}
    # CountTokens names the foundation model, even for models served through inference profiles.
    return json_response({"input_tokens": await services.runtime.count_tokens(model.base_id, shape)})


# Plain Starlette routes, like the OpenAI dialect's. Claude Code adds `?beta=true`, which changes nothing here.
router = APIRouter()
router.add_route("/messages", messages, methods=["POST"])
router.add_route("/messages/count_tokens", count_tokens, methods=["POST"])
