"""The Anthropic-compatible endpoints: `/v1/messages` (whole and streamed) and `/v1/messages/count_tokens`.

Claude goes through InvokeModel with Anthropic's own body, so every Claude feature keeps its fidelity; other
models go through Converse, translated both ways.
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
from quarry.api._core import Usage
from quarry.api._estimate import estimate_tokens
from quarry.api._exchange import watch_anthropic, watch_converse
from quarry.api._responses import json_response
from quarry.api._services import Services
from quarry.api.anthropic._converse import StreamWriter, converse_request, to_message
from quarry.api.anthropic._errors import error_event
from quarry.api.anthropic._native import PING, betas, native_body, sse_event
from quarry.api.anthropic._schemas import CountTokensRequest, MessagesRequest
from quarry.bedrock import ConverseRequest, ConverseTokensRequest, CountTokensInput, MessagesBody, ResolvedModel
from quarry.exchange import exchange_of

__all__ = ["router"]


def _is_claude(model: ResolvedModel) -> bool:
    return model.base_id.startswith("anthropic.claude")


async def _native_body(request: Request, services: Services, model: ResolvedModel, raw: dict[str, Any]) -> MessagesBody:
    accepted = services.settings.models.anthropic_betas
    flags = betas(request.headers.get("anthropic-beta"), raw.get("anthropic_beta"), accepted)
    return await native_body(raw, flags, model.facts, services.load_image)


def _countable(converse: ConverseRequest) -> ConverseTokensRequest:
    """What CountTokens takes of a Converse request: not inferenceConfig, which adds no input tokens."""
    counted: ConverseTokensRequest = {"messages": converse.get("messages", [])}
    if "system" in converse:
        counted["system"] = converse["system"]
    if "toolConfig" in converse:
        counted["toolConfig"] = converse["toolConfig"]
    return counted


@json_body(MessagesRequest)
async def messages(request: Request) -> Response:
    services = services_of(request)
    exchange = exchange_of(request)
    principal = await services.authenticate(request, "messages")
    raw = await read_json(request, services.settings.max_body_bytes)
    body = read_model(raw, MessagesRequest)
    model = await services.catalog.resolve(body.model)
    exchange.model, exchange.stream = model.id, body.stream
    await services.admit(request, principal, model, estimate_tokens(raw, body.max_tokens), max_output=body.max_tokens)
    runtime = services.runtime
    # A stream is opened before the response starts, so a refusal or throttle is still a proper HTTP error (and
    # retried); the exit stack then closes it when the response ends, however it ends.
    resources = AsyncExitStack()
    if _is_claude(model):
        native = await _native_body(request, services, model, raw)
        if not body.stream:
            message = await runtime.invoke_claude(model.id, native)
            exchange.note_usage(Usage.from_messages(message.get("usage")).counts())
            return json_response(message)
        claude_events = await resources.enter_async_context(runtime.invoke_claude_stream(model.id, native))
        return services.stream(
            request,
            resources,
            watch_anthropic(claude_events, exchange),
            sse_event,
            finish=lambda: b"",
            render_error=error_event,
            keepalive=PING,
        )
    converse = await converse_request(body, model, services.load_image)
    if not body.stream:
        answer = await runtime.converse(model.id, converse)
        exchange.note_usage(Usage.from_converse(answer.get("usage")).counts())
        return json_response(to_message(answer, body))
    events = await resources.enter_async_context(runtime.converse_stream(model.id, converse))
    writer = StreamWriter(body)
    return services.stream(
        request,
        resources,
        watch_converse(events, exchange),
        writer.event,
        finish=writer.finish,
        render_error=error_event,
        keepalive=PING,
    )


@json_body(CountTokensRequest)
async def count_tokens(request: Request) -> Response:
    services = services_of(request)
    principal = await services.authenticate(request, "messages.count_tokens")
    raw = await read_json(request, services.settings.max_body_bytes)
    body = read_model(raw, CountTokensRequest)
    model = await services.catalog.resolve(body.model)
    exchange_of(request).model = model.id
    # Counting is free but, as at Anthropic, subject to the requests-per-minute limit ("Pricing and rate limits",
    # https://docs.anthropic.com/en/docs/build-with-claude/token-counting): it takes a request, and no tokens, so a
    # key over its limits does not reach Bedrock's CountTokens either.
    await services.admit(request, principal, model, 0, max_output=0)
    if _is_claude(model):
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
