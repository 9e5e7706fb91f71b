"""The OpenAI-compatible endpoints: chat completions (whole and streamed) and embeddings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._body import json_body, read_json, read_model
from quarry.api._context import services_of
from quarry.api._core import DROPPED_PARAMS_HEADER, Usage, output_reserve
from quarry.api._errors import error_body
from quarry.api._estimate import estimate_tokens
from quarry.api._exchange import watch_converse
from quarry.api._fallbacks import fallback_chain, open_stream, with_fallbacks
from quarry.api._published import answers
from quarry.api._responses import json_response
from quarry.api.openai._answers import ChatCompletion, EmbeddingList
from quarry.api.openai._embeddings import embed
from quarry.api.openai._knowledge import KB_PREFIX, canned_answer, canned_events, knowledge_chat
from quarry.api.openai._messages import to_converse
from quarry.api.openai._render import ChunkWriter, completion
from quarry.api.openai._request import ChatPlan, plan_chat
from quarry.api.openai._schemas import ChatCompletionRequest, EmbeddingRequest
from quarry.bedrock import ConverseResponse, ConverseStreamEvent, ResolvedModel
from quarry.exchange import exchange_of

__all__ = ["router"]

_DONE = b"data: [DONE]\n\n"


@json_body(ChatCompletionRequest)
@answers(ChatCompletion, streams=True)
async def chat_completions(request: Request) -> Response:
    services = services_of(request)
    exchange = exchange_of(request)
    principal = await services.authenticate(request, "chat.completions")
    settings = services.settings
    raw = await read_json(request, settings.max_body_bytes)
    chat = read_model(raw, ChatCompletionRequest)
    # Authorise and admit before anything reaches Bedrock: a `kb:` model's search embeds the question, so it waits
    # until the caller is known to be allowed the knowledge base and the answering model, and within its limits.
    knowledge = await knowledge_chat(request, principal, chat) if chat.model.startswith(KB_PREFIX) else None
    if knowledge is not None:
        chat = knowledge.chat
    model = await services.catalog.resolve(chat.model)
    exchange.model, exchange.stream = model.id, chat.stream
    max_output = output_reserve(model, chat.max_completion_tokens or chat.max_tokens)
    passages = knowledge.passage_tokens if knowledge is not None else 0
    await services.admit(request, principal, model, estimate_tokens(raw, max_output) + passages, max_output=max_output)
    turn = await knowledge.search() if knowledge is not None else None
    if turn is not None:
        chat = turn.chat
    canned = turn is not None and not turn.hits  # nothing relevant in the knowledge base: no model is asked
    chain = (model,) if canned else await fallback_chain(request, services, principal, model)

    async def plan_for(candidate: ResolvedModel) -> ChatPlan:
        system_messages = candidate.facts.system_messages
        history = await to_converse(chat.messages, services.load_image, system_messages=system_messages)
        return plan_chat(chat, candidate, history, settings.models)

    if not chat.stream:

        async def whole(candidate: ResolvedModel) -> tuple[ChatPlan, ConverseResponse]:
            plan = await plan_for(candidate)
            if turn is not None and canned:
                return plan, canned_answer(turn.nothing_found())
            return plan, await services.runtime.converse(candidate.id, plan.body)

        plan, answer = await with_fallbacks(request, services, chain, whole)
        exchange.note_usage(Usage.from_converse(answer.get("usage")).counts())
        body = completion(plan, answer)
        if turn is not None:
            body["choices"][0]["message"]["sources"] = turn.sources(body["choices"][0]["message"].get("content"))
        return json_response(body, headers=_dropped(plan))
    resources = AsyncExitStack()

    async def streamed(candidate: ResolvedModel) -> tuple[ChatPlan, AsyncIterator[ConverseStreamEvent]]:
        plan = await plan_for(candidate)
        if turn is not None and canned:
            return plan, canned_events(turn.nothing_found())
        # Opened, and its first event read, before the response starts: a refusal or throttle is still a proper
        # HTTP error, retried or answered by the next model of the chain.
        return plan, await open_stream(
            resources, services.runtime.converse_stream(candidate.id, plan.body), wait_s=services.settings.keepalive_s
        )

    plan, events = await with_fallbacks(request, services, chain, streamed)
    include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
    writer = ChunkWriter(plan, include_usage=include_usage, sources=turn.sources() if turn is not None else None)
    response = services.stream(
        request,
        resources,
        watch_converse(events, exchange),
        writer.event,
        finish=lambda: _DONE,
        render_error=lambda error: b"data: " + orjson.dumps(error_body(error)) + b"\n\n",
    )
    response.headers.update(_dropped(plan) or {})
    return response


def _dropped(plan: ChatPlan) -> dict[str, str] | None:
    return {DROPPED_PARAMS_HEADER: ", ".join(plan.dropped)} if plan.dropped else None


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
router.add_route("/embeddings", embeddings, methods=["POST"])
