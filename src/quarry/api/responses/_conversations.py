"""OpenAI's Conversations API (https://platform.openai.com/docs/api-reference/conversations): a conversation and its
items, kept by Quarry for the key that made it, and the `conversation` parameter of responses.create, whose input
and output items are added to the conversation once the response is done.

This took `/v1/conversations` from the toolbox's own history routes, which moved to `/v1/toolbox/conversations`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._body import json_body, read_json, read_model
from quarry.api._context import context_of, services_of
from quarry.api._published import answers
from quarry.api._responses import json_response
from quarry.api.responses._conversation_store import Conversation, ConversationStore
from quarry.api.responses._input import Items
from quarry.api.responses._items import input_items
from quarry.api.responses._render import new_id, public_item
from quarry.api.responses._request import ENCRYPTED
from quarry.errors import InvalidRequest, NotFound
from quarry.store import Database

__all__ = ["conversation_id", "conversation_router", "record_in_conversation", "start_from_conversation"]

MAX_ITEMS = 20  # "You may add up to 20 items at a time" (conversations.create, conversations.items.create)
_KINDS = {"message", "function_call", "function_call_output", "reasoning", "file_search_call", "item_reference"}
_ROLES = {"user", "assistant", "system", "developer"}
Metadata = dict[Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=512)]]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CreateConversation(_Open):
    items: list[Any] | None = Field(default=None, max_length=MAX_ITEMS)
    metadata: Metadata | None = Field(default=None, max_length=16)


class UpdateConversation(_Open):
    metadata: Metadata | None = Field(max_length=16)


class CreateItems(_Open):
    items: list[Any] = Field(min_length=1, max_length=MAX_ITEMS)

    @field_validator("items", mode="before")
    @classmethod
    def _items(cls, value: object) -> object:
        if not isinstance(value, list):
            raise InvalidRequest("Invalid value for `items`: must be an array of items.", param="items")
        return value


class ConversationObject(BaseModel):
    id: str
    object: Literal["conversation"]
    created_at: int
    metadata: dict[str, str]


class ConversationDeleted(BaseModel):
    id: str
    object: Literal["conversation.deleted"]
    deleted: bool


class ItemList(BaseModel):
    object: Literal["list"]
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool


def _not_found(conversation: str, param: str = "conversation_id") -> NotFound:
    return NotFound(f"Conversation with id '{conversation}' not found.", param=param, code="conversation_not_found")


def conversation_id(value: str | dict[str, Any] | None) -> str | None:
    """The id the `conversation` parameter names (a string, or an object with `id`)."""
    if value is None:
        return None
    given = value if isinstance(value, str) else value.get("id")
    if not isinstance(given, str) or not given.startswith("conv_"):
        raise InvalidRequest(
            f"Invalid 'conversation': {given!r}. Expected an ID that begins with 'conv_'.", param="conversation"
        )
    return given


async def start_from_conversation(database: Database, key_id: str, value: str | dict[str, Any]) -> Items:
    """The items a response in the conversation starts from (404 when the key has no such conversation)."""
    wanted = conversation_id(value) or ""
    store = ConversationStore(database)
    if await store.get(key_id, wanted) is None:
        raise _not_found(wanted, "conversation")
    return await store.items(wanted)


async def record_in_conversation(database: Database, final: dict[str, Any], items: Items) -> None:
    """A finished response's input and output items, added to its conversation (a failed or cancelled one adds
    nothing)."""
    conversation = final.get("conversation")
    if conversation and final["status"] in ("completed", "incomplete"):
        await ConversationStore(database).append(conversation["id"], [*items, *final["output"]])


def _checked(given: list[Any]) -> Items:
    """Items to add: each an object of a type the Responses API takes here, with an id."""
    for n, item in enumerate(given):
        where = f"items[{n}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"Invalid value for `{where}`: must be an object.", param=where)
        kind = item.get("type", "message")
        if kind not in _KINDS:
            raise InvalidRequest(
                f"`{where}.type`: items of type `{kind}` are not supported; Quarry takes message, function_call, "
                "function_call_output, reasoning and file_search_call items.",
                param=f"{where}.type",
                code="unsupported_value",
            )
        if kind == "message" and item.get("role") not in _ROLES:
            raise InvalidRequest(
                f"Invalid value for `{where}.role`: must be user, assistant, system or developer.",
                param=f"{where}.role",
            )
        if kind == "message" and not isinstance(item.get("content"), str | list):
            raise InvalidRequest(f"Invalid value for `{where}.content`: must be a string or an array.", param=where)
    return input_items(given, "items")


async def _owned(request: Request) -> tuple[ConversationStore, Conversation, str]:
    """The store, the conversation the path names and the caller's key id; 404 unless the key made it."""
    principal = await services_of(request).authenticate(request, "conversations")
    store = ConversationStore(context_of(request).database)
    wanted: str = request.path_params["conversation_id"]
    found = await store.get(principal.key_id, wanted)
    if found is None:
        raise _not_found(wanted)  # another key's conversation is as absent as a missing one
    return store, found, principal.key_id


def _include(request: Request) -> bool:
    return ENCRYPTED in request.query_params.getlist("include") + request.query_params.getlist("include[]")


def _page(items: list[dict[str, Any]], has_more: bool, encrypted: bool) -> dict[str, Any]:
    shown = [public_item(item, encrypted) for item in items]
    return {
        "object": "list",
        "data": shown,
        "first_id": shown[0]["id"] if shown else None,
        "last_id": shown[-1]["id"] if shown else None,
        "has_more": has_more,
    }


@json_body(CreateConversation)
@answers(ConversationObject)
async def create_conversation(request: Request) -> Response:
    services = services_of(request)
    principal = await services.authenticate(request, "conversations")
    body = read_model(await read_json(request, services.settings.max_body_bytes), CreateConversation)
    items = _checked(body.items or [])
    store = ConversationStore(context_of(request).database)
    made = await store.create(principal.key_id, new_id("conv"), body.metadata or {})
    await store.append(made.id, items)
    return json_response(made.body())


@answers(ConversationObject)
async def get_conversation(request: Request) -> Response:
    _, found, _ = await _owned(request)
    return json_response(found.body())


@json_body(UpdateConversation)
@answers(ConversationObject)
async def update_conversation(request: Request) -> Response:
    store, found, key_id = await _owned(request)
    body = read_model(await read_json(request, services_of(request).settings.max_body_bytes), UpdateConversation)
    updated = await store.update(key_id, found.id, body.metadata or {})
    if updated is None:
        raise _not_found(found.id)  # deleted meanwhile
    return json_response(updated.body())


@answers(ConversationDeleted)
async def delete_conversation(request: Request) -> Response:
    store, found, key_id = await _owned(request)
    await store.delete(key_id, found.id)
    return json_response({"id": found.id, "object": "conversation.deleted", "deleted": True})


def _limit(request: Request) -> int:
    given = request.query_params.get("limit", "20")
    if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= 100:  # "²".isdigit() too
        raise InvalidRequest("Invalid value for `limit`: must be an integer from 1 to 100.", param="limit")
    return int(given)


@answers(ItemList)
async def list_items(request: Request) -> Response:
    # https://platform.openai.com/docs/api-reference/conversations/list-items: newest first unless order=asc;
    # `after` is the id of the item the page starts after.
    store, found, _ = await _owned(request)
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("Invalid value for `order`: must be asc or desc.", param="order")
    limit = _limit(request)
    after = request.query_params.get("after")
    position = None
    if after is not None:
        position = await store.position(found.id, after)
        if position is None:
            raise InvalidRequest(f"No item `{after}` in this conversation.", param="after")
    page = await store.page(found.id, after=position, limit=limit, order="asc" if order == "asc" else "desc")
    return json_response(_page(page.items, page.has_more, _include(request)))


@json_body(CreateItems)
@answers(ItemList)
async def create_items(request: Request) -> Response:
    store, found, _ = await _owned(request)
    body = read_model(await read_json(request, services_of(request).settings.max_body_bytes), CreateItems)
    items = _checked(body.items)
    await store.append(found.id, items)
    return json_response(_page(items, False, _include(request)))


def _item_not_found(item_id: str) -> NotFound:
    return NotFound(f"Item with id '{item_id}' not found.", param="item_id", code="item_not_found")


async def get_item(request: Request) -> Response:
    store, found, _ = await _owned(request)
    item_id: str = request.path_params["item_id"]
    item = await store.item(found.id, item_id)
    if item is None:
        raise _item_not_found(item_id)
    return json_response(public_item(item, _include(request)))


@answers(ConversationObject)
async def delete_item(request: Request) -> Response:
    # https://platform.openai.com/docs/api-reference/conversations/delete-item: answers with the conversation.
    store, found, _ = await _owned(request)
    item_id: str = request.path_params["item_id"]
    if not await store.delete_item(found.id, item_id):
        raise _item_not_found(item_id)
    return json_response(found.body())


conversation_router = APIRouter()
conversation_router.add_route("/conversations", create_conversation, methods=["POST"])
conversation_router.add_route("/conversations/{conversation_id}", get_conversation, methods=["GET"])
conversation_router.add_route("/conversations/{conversation_id}", update_conversation, methods=["POST"])
conversation_router.add_route("/conversations/{conversation_id}", delete_conversation, methods=["DELETE"])
conversation_router.add_route("/conversations/{conversation_id}/items", list_items, methods=["GET"])
conversation_router.add_route("/conversations/{conversation_id}/items", create_items, methods=["POST"])
conversation_router.add_route("/conversations/{conversation_id}/items/{item_id}", get_item, methods=["GET"])
conversation_router.add_route("/conversations/{conversation_id}/items/{item_id}", delete_item, methods=["DELETE"])
