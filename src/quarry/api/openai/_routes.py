"""The OpenAI-compatible endpoints: chat completions (whole and streamed), text completions and embeddings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._body import json_body, read_json, read_model
from quarry.api._context import services_of
from quarry.api._core import Usage
from quarry.api._estimate import estimate_tokens
from quarry.api._exchange import noted
from quarry.api._fallbacks import open_stream, with_fallbacks
from quarry.api._published import answers
from quarry.api._responses import json_response
from quarry.api.openai._answers import ChatCompletion, EmbeddingList
from quarry.api.openai._calls import ChatCall, dropped_header, prepare_calls
from quarry.api.openai._completions import completions
from quarry.api.openai._embeddings import embed
from quarry.api.openai._render import DONE, ChunkWriter, completion, render_error
from quarry.api.openai._schemas import ChatCompletionRequest, EmbeddingRequest
from quarry.bedrock import ConverseResponse, ConverseStreamEvent, ResolvedModel
from quarry.exchange import exchange_of

__all__ = ["router"]


@json_body(ChatCompletionRequest)
@answers(ChatCompletion, streams=True)
async def chat_completions(request: Request) -> Response:
    services = services_of(request)
    exchange = exchange_of(request)
    principal = await services.authenticate(request, "chat.completions")
    raw = await read_json(request, services.settings.max_body_bytes)
    chat = read_model(raw, ChatCompletionRequest)
    [first], chain = await prepare_calls(request, principal, [chat], estimate_tokens(raw, 0), fallbacks=True)
    if first.canned:
        chain = chain[:1]
    if not chat.stream:

        async def whole(candidate: ResolvedModel) -> tuple[ChatCall, ConverseResponse]:
            call = await first.for_model(request, principal, candidate)
            return call, await call.answer(services.runtime)

        call, answer = await with_fallbacks(request, services, chain, whole)
        exchange.note_usage(Usage.from_converse(answer.get("usage")).counts())
        body = completion(call.plan, answer)
        if call.turn is not None:
            body["choices"][0]["message"]["sources"] = call.sources(body["choices"][0]["message"].get("content"))
        return json_response(body, headers=dropped_header([call]))
    resources = AsyncExitStack()

    async def streamed(candidate: ResolvedModel) -> tuple[ChatCall, AsyncIterator[ConverseStreamEvent]]:
        call = await first.for_model(request, principal, candidate)
        # Opened, and its first event read, before the response starts: a refusal or throttle is still a proper
        # HTTP error, retried or answered by the next model of the chain.
        return call, await open_stream(resources, call.stream(services.runtime), wait_s=services.settings.keepalive_s)

    call, events = await with_fallbacks(request, services, chain, streamed)
    dropped = dropped_header([call])
    include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
    writer = ChunkWriter(call.plan, include_usage=include_usage, sources=call.sources())
    response = services.stream(
        request,
        resources,
        events,
        noted(writer.event, exchange),
        finish=lambda: DONE,
        render_error=render_error,
    )
    response.headers.update(dropped or {})
    return response


@json_body(EmbeddingRequest)
@answers(EmbeddingList)
async def embeddings(request: Request) -> Response:
    services = services_of(request)
    exchange = exchange_of(request)
    principal = await services.authenticate(request, "embeddings")
    raw = await read_json(request, services.settings.max_body_bytes)
    body = read_model(raw, EmbeddingRequest)
    model = await services.catalog.resolve(body.model, purpose="embedding")
    exchange.model = model.id
    await services.admit(request, principal, model, estimate_tokens(raw, 0), max_output=0)
    result = await embed(services.runtime, model, body, max_inputs=services.settings.embeddings.max_inputs)
    exchange.input_tokens = result["usage"]["prompt_tokens"]
    return json_response(result)


# Plain Starlette routes: these endpoints use none of FastAPI's per-request machinery (dependencies, body
# parsing, response models), which measured at about a seventh of the gateway's CPU per request.
router = APIRouter()
router.add_route("/chat/completions", chat_completions, methods=["POST"])
router.add_route("/completions", completions, methods=["POST"])
router.add_route("/embeddings", embeddings, methods=["POST"])
