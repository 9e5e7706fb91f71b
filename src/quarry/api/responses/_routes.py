"""The Responses API endpoints (https://platform.openai.com/docs/api-reference/responses): create (whole and
streamed), retrieve, delete, list input items, count input tokens. Authenticated, admitted and recorded as chat
completions are: the same keys, model scopes, limits, usage, metrics and access log."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._background import FEED_KEEP_S, Feed
from quarry.api._body import json_body, read_json, read_model
from quarry.api._context import context_of, services_of
from quarry.api._core import (
    OPENAI_SERVICE_TIERS,
    ConverseHistory,
    Usage,
    bedrock_tier,
    guard_converse,
    output_reserve,
    set_service_tier,
)
from quarry.api._estimate import estimate_tokens
from quarry.api._exchange import watch_converse
from quarry.api._fallbacks import fallback_chain, open_stream, with_fallbacks
from quarry.api._responses import json_response
from quarry.api._services import Services
from quarry.api._sse import named_event
from quarry.api.responses._background import start_in_background, stream_in_background
from quarry.api.responses._conversations import record_in_conversation, start_from_conversation
from quarry.api.responses._file_search import file_search_of
from quarry.api.responses._input import Items, to_converse
from quarry.api.responses._items import input_items
from quarry.api.responses._render import Builder, new_id, public_response
from quarry.api.responses._request import ENCRYPTED, ResponsePlan, plan_response, unrunnable_tools
from quarry.api.responses._schemas import InputTokensRequest, ResponsesRequest
from quarry.api.responses._sealing import Sealer
from quarry.api.responses._store import UNFINISHED, ResponseStore, Stored
from quarry.api.responses._stream import EventWriter
from quarry.auth import Principal
from quarry.bedrock import ConverseResponse, ConverseStreamEvent, ConverseTokensRequest, ResolvedModel
from quarry.errors import InvalidRequest, NotFound, QuarryError
from quarry.exchange import exchange_of

__all__ = ["IGNORED_TOOLS_HEADER", "router"]

IGNORED_TOOLS_HEADER = "x-quarry-ignored-tools"  # the built-in tools left out of the model's tools, comma-separated
_KB_PREFIX = "kb:"  # the chat dialect's knowledge-base models (quarry.api.openai, which this dialect does not import)


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"No response found with id '{response_id}'.", param="response_id", code="response_not_found")


async def _with_stored_items(request: Request, principal: Principal, items: Items) -> Items:
    """Each `item_reference` replaced by the item it names (any item of the key's stored responses), and reasoning
    items replayed without their content (a stored response's output, as the Agents SDK sends it back) given it from
    the store, so the assistant's text, its tool calls and Claude's signed thinking return to their turn."""
    store = ResponseStore(context_of(request).database)
    references = [item["id"] for item in items if item.get("type") == "item_reference" and "id" in item]
    found = await store.items(principal.key_id, [str(ref) for ref in references])
    bare = [
        item["id"]
        for item in items
        if item.get("type") == "reasoning" and item.get("encrypted_content") is None and isinstance(item.get("id"), str)
    ]
    # Responses stored before migration 14 have their sealed reasoning only, by id.
    missing = [str(ref) for ref in references if ref not in found]
    sealed = await store.reasoning(principal.key_id, bare + missing) if bare or missing else {}
    resolved: Items = []
    for n, item in enumerate(items):
        if item.get("type") == "item_reference":
            item_id = item.get("id")
            if item_id in found:
                item = found[item_id]
            elif item_id in sealed:
                item = {"id": item_id, "type": "reasoning", "summary": [], "encrypted_content": sealed[item_id]}
            else:
                # OpenAI's words for an item it does not have (or another project's): "Item with id '…' not found."
                # (seen in https://github.com/vercel/ai/issues/9119), here naming the input item at fault.
                raise InvalidRequest(
                    f"Item with id '{item_id}' not found.", param=f"input[{n}].id", code="item_not_found"
                )
        elif item.get("type") == "reasoning" and item.get("id") in sealed and item.get("encrypted_content") is None:
            item = {**item, "encrypted_content": sealed[item["id"]]}
        resolved.append(item)
    return resolved


async def _history(
    request: Request, services: Services, principal: Principal, body: InputTokensRequest, sealer: Sealer
) -> tuple[Items, ConverseHistory]:
    """(input items, history): this request's input after the stored chain `previous_response_id` names."""
    context: Items = []
    if body.conversation is not None:
        if body.previous_response_id is not None:
            # https://platform.openai.com/docs/api-reference/responses/create#conversation: "Cannot be used in
            # conjunction with `previous_response_id`", refused in OpenAI's words.
            raise InvalidRequest(
                "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or "
                "'conversation'.",
                code="mutually_exclusive_parameters",
            )
        context = await start_from_conversation(context_of(request).database, principal.key_id, body.conversation)
    elif body.previous_response_id is not None:
        chain = await ResponseStore(context_of(request).database).chain(principal.key_id, body.previous_response_id)
        if chain is None:
            raise NotFound(
                f"Previous response with id '{body.previous_response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        context = chain
    items = await _with_stored_items(request, principal, input_items(body.input))
    history = await to_converse(
        [*context, *items], body.instructions, services.load_image, sealer.open, first=len(context)
    )
    return items, history


async def _knowledge_model(
    request: Request, principal: Principal, body: ResponsesRequest
) -> tuple[ResponsesRequest, str]:
    """A `kb:NAME` or `kb:NAME:MODEL` model, as chat completions take it: the answering model (MODEL, else
    kb.answer_model, else the default) with a file_search over NAME, so the answer cites the knowledge base's
    documents as file_citation annotations. The same access rule: a base the key may not read is the 404 of a
    missing one, naming `model`."""
    settings = context_of(request).settings
    name, _, model = body.model.removeprefix(_KB_PREFIX).partition(":")
    await context_of(request).readable_knowledge_base(principal, name, param="model")
    tools = [dict(tool) for tool in body.tools or ()]
    searching = next((tool for tool in tools if tool.get("type") == "file_search"), None)
    if searching is None:
        tools.append({"type": "file_search", "vector_store_ids": [name]})
    elif name not in (ids := list(searching.get("vector_store_ids") or ())):
        searching["vector_store_ids"] = [*ids, name]
    answering = model or settings.kb.answer_model or settings.models.default
    return body.model_copy(update={"tools": tools}), answering


@json_body(ResponsesRequest)
async def create_response(request: Request) -> Response:
    services = services_of(request)
    exchange = exchange_of(request)
    principal = await services.authenticate(request, "responses")
    settings = services.settings
    raw = await read_json(request, settings.max_body_bytes)
    body = read_model(raw, ResponsesRequest)
    if body.background and not body.store:
        # https://platform.openai.com/docs/guides/background: background responses are stored (they are polled).
        raise InvalidRequest("background requires store.", param="store", code="unsupported_parameter")
    answering = body.model
    if body.model.startswith(_KB_PREFIX):
        body, answering = await _knowledge_model(request, principal, body)
    model = await services.catalog.resolve(answering)
    exchange.model, exchange.stream = model.id, body.stream
    search = await file_search_of(
        context_of(request), principal, body.tools, body.include, default_results=settings.kb.top_k
    )
    estimate = estimate_tokens(raw, output_reserve(model, body.max_output_tokens))
    # Background work runs after this request has answered: it keeps to the model asked for.
    chain = (model,) if body.background else await fallback_chain(request, services, principal, model)
    passages = search.passage_tokens if search else 0
    asked_tier = OPENAI_SERVICE_TIERS[body.service_tier or "auto"]
    tier = bedrock_tier(asked_tier, settings.models, model)
    await services.admit(request, principal, model, estimate + passages, fallbacks=chain[1:], service_tier=tier)
    sealer = Sealer.of(settings, principal.key_id)
    items, history = await _history(request, services, principal, body, sealer)
    searched = await search.search(history, new_id) if search is not None else None
    if searched is not None:
        history.system.append({"text": searched.instructions()})
    strict = settings.responses.strict_tools
    pristine = copy.deepcopy(history) if len(chain) > 1 else history  # planning adds cache points in place

    async def plan_for(candidate: ResolvedModel) -> ResponsePlan:
        fresh = history if candidate is model else copy.deepcopy(pristine)
        planned = plan_response(body, candidate, fresh, settings.models, strict_tools=strict)
        guard_converse(planned.body, await services.guardrail(principal, candidate), stream=body.stream)
        set_service_tier(planned.body, bedrock_tier(asked_tier, settings.models, candidate))
        return planned

    plan = await plan_for(model)  # the request's own checks, before any call
    ignored = unrunnable_tools(body.tools)
    if ignored:
        exchange.headers[IGNORED_TOOLS_HEADER] = ",".join(dict.fromkeys(ignored))
    builder = Builder(body, plan, sealer, search=searched)
    encrypted = ENCRYPTED in (body.include or ())
    store = ResponseStore(context_of(request).database) if body.store else None
    ttl = settings.responses.store_ttl_s

    async def record(final: dict[str, Any]) -> None:
        await record_in_conversation(context_of(request).database, final, items)

    async def keep(final: dict[str, Any]) -> None:
        if store is not None:
            await store.save(principal.key_id, Stored(final, items), ttl)
        if final["status"] != "queued":
            await record(final)

    if body.background:
        queued = builder.body("queued")
        await keep(queued)
        background_store = ResponseStore(context_of(request).database)
        if body.stream:
            writer = EventWriter(builder, encrypted=encrypted)
            feed = stream_in_background(context_of(request), exchange, writer, builder, background_store, record)
            return _follow(request, feed, -1)
        start_in_background(context_of(request), exchange, builder, background_store, record)
        return json_response(public_response(queued, encrypted))
    if not body.stream:

        async def whole(candidate: ResolvedModel) -> tuple[ResponsePlan, ConverseResponse]:
            tried = plan if candidate is model else await plan_for(candidate)
            return tried, await services.runtime.converse(candidate.id, tried.body)

        answered, answer = await with_fallbacks(request, services, chain, whole)
        exchange.note_usage(Usage.from_converse(answer.get("usage")).counts())
        final = Builder(body, answered, sealer, search=searched).whole(answer)
        await keep(final)
        return json_response(public_response(final, encrypted))
    resources = AsyncExitStack()

    async def streamed(candidate: ResolvedModel) -> tuple[ResponsePlan, AsyncIterator[ConverseStreamEvent]]:
        tried = plan if candidate is model else await plan_for(candidate)
        # Opened (and its first event awaited) before the response starts, so a refusal or throttle is still a
        # proper HTTP error, retried or answered by the chain's next model.
        opened = services.runtime.converse_stream(candidate.id, tried.body)
        return tried, await open_stream(resources, opened, wait_s=settings.keepalive_s)

    answered, upstream = await with_fallbacks(request, services, chain, streamed)
    writer = EventWriter(Builder(body, answered, sealer, search=searched), encrypted=encrypted)

    async def events() -> AsyncIterator[ConverseStreamEvent]:
        async for event in watch_converse(upstream, exchange):
            yield event
        await keep(writer.end())  # stored before response.completed is sent: a client may fetch it at once

    return services.stream(request, resources, events(), writer.event, finish=writer.finish, render_error=writer.error)


async def cancel_response(request: Request) -> Response:
    # https://platform.openai.com/docs/api-reference/responses/cancel: background responses only.
    _, stored = await _owned(request)
    body = stored.body
    if not body.get("background"):
        raise InvalidRequest("Only responses created with background: true can be cancelled.", param="response_id")
    if body["status"] in UNFINISHED:
        cancelled = {**body, "status": "cancelled"}
        if await ResponseStore(context_of(request).database).advance(cancelled):
            body = cancelled
        context_of(request).background.cancel(body["id"])  # stops the upstream call, if this instance runs it
    return json_response(public_response(body, _include(request)))


async def _owned(request: Request) -> tuple[str, Stored]:
    services = services_of(request)
    principal = await services.authenticate(request, "responses")
    response_id: str = request.path_params["response_id"]
    stored = await ResponseStore(context_of(request).database).get(principal.key_id, response_id)
    if stored is None:
        raise _not_found(response_id)  # another key's response is as absent as a missing one
    return principal.key_id, stored


def _include(request: Request) -> bool:
    return ENCRYPTED in request.query_params.getlist("include") + request.query_params.getlist("include[]")


def _follow(request: Request, feed: Feed, after: int) -> Response:
    """A background response's stream, from the event after `after`: leaving it does not stop the response."""

    def render_error(error: QuarryError) -> bytes:
        return named_event("error", {"type": "error", "code": error.code, "message": error.message, "param": None})

    return services_of(request).stream(
        request,
        AsyncExitStack(),
        feed.follow(after),
        lambda chunk: [chunk],
        finish=lambda: b"",
        render_error=render_error,
    )


async def get_response(request: Request) -> Response:
    _, stored = await _owned(request)
    if request.query_params.get("stream") not in ("true", "1"):
        return json_response(public_response(stored.body, _include(request)))
    # https://platform.openai.com/docs/api-reference/responses/get: `stream` with `starting_after` (a sequence
    # number) resumes a background response's stream.
    given = request.query_params.get("starting_after", "-1")
    if not (given.isascii() and given.lstrip("-").isdigit()):  # "²".isdigit() too
        raise InvalidRequest("Invalid value for `starting_after`: must be an integer.", param="starting_after")
    feed = context_of(request).background.feed(stored.body["id"])
    if feed is None:
        raise InvalidRequest(
            "This response's stream cannot be resumed here: only a streamed background response, on the server "
            f"running it and until {int(FEED_KEEP_S)} s after it ends. GET it without stream.",
            param="stream",
            code="stream_unavailable",
        )
    exchange_of(request).stream = True
    return _follow(request, feed, int(given))


async def delete_response(request: Request) -> Response:
    key_id, stored = await _owned(request)
    await ResponseStore(context_of(request).database).delete(key_id, stored.body["id"])
    return json_response({"id": stored.body["id"], "object": "response", "deleted": True})


def _limit(request: Request) -> int:
    given = request.query_params.get("limit", "20")
    if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= 100:
        raise InvalidRequest("Invalid value for `limit`: must be an integer from 1 to 100.", param="limit")
    return int(given)


async def list_input_items(request: Request) -> Response:
    # https://platform.openai.com/docs/api-reference/responses/input-items: newest first unless order=asc; `after`
    # is the id of the item the page starts after.
    _, stored = await _owned(request)
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("Invalid value for `order`: must be asc or desc.", param="order")
    limit = _limit(request)
    items = stored.input_items if order == "asc" else list(reversed(stored.input_items))
    after = request.query_params.get("after")
    if after is not None:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise InvalidRequest(f"No input item `{after}` in this response.", param="after")
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    return json_response(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )


@json_body(InputTokensRequest)
async def count_input_tokens(request: Request) -> Response:
    services = services_of(request)
    principal = await services.authenticate(request, "responses.input_tokens")
    raw = await read_json(request, services.settings.max_body_bytes)
    body = read_model(raw, InputTokensRequest)
    model = await services.catalog.resolve(body.model)
    exchange_of(request).model = model.id
    search = await file_search_of(
        context_of(request), principal, body.tools, None, default_results=services.settings.kb.top_k
    )
    # Counting costs a request and no tokens, as /v1/messages/count_tokens does.
    await services.admit(request, principal, model, 0)
    sealer = Sealer.of(services.settings, principal.key_id)
    _, history = await _history(request, services, principal, body, sealer)
    if search is not None:
        # The passages create would put before the model count as its input does: the same search, done again.
        history.system.append({"text": (await search.search(history, new_id)).instructions()})
    plan = plan_response(body, model, history, services.settings.models)
    counted: ConverseTokensRequest = {"messages": plan.body.get("messages", [])}
    if plan.body.get("system"):
        counted["system"] = plan.body["system"]
    if "toolConfig" in plan.body:
        counted["toolConfig"] = plan.body["toolConfig"]
    # CountTokens names the foundation model, even for models served through inference profiles.
    tokens = await services.runtime.count_tokens(model.base_id, {"converse": counted})
    return json_response({"object": "response.input_tokens", "input_tokens": tokens})


# Plain Starlette routes, like the other dialects'.
router = APIRouter()
router.add_route("/responses", create_response, methods=["POST"])
router.add_route("/responses/input_tokens", count_input_tokens, methods=["POST"])
router.add_route("/responses/{response_id}", get_response, methods=["GET"])
router.add_route("/responses/{response_id}", delete_response, methods=["DELETE"])
router.add_route("/responses/{response_id}/input_items", list_input_items, methods=["GET"])
router.add_route("/responses/{response_id}/cancel", cancel_response, methods=["POST"])
