"""Conversations and per-user settings over HTTP, each scoped to the caller's principal and toolbox user.

The `X-Quarry-User` header names a user *inside* the authenticated principal's namespace: a key holder (the
toolbox) keeps its users apart with it, and no header reaches another key's data.
"""

from __future__ import annotations

import re
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._body import json_body, read_json, read_model
from quarry.api._context import context_of, services_of
from quarry.api._published import answers
from quarry.api._responses import json_response
from quarry.conversations import (
    Conversation,
    ConversationPatch,
    ConversationStore,
    ConversationSummary,
    Owner,
    UserSettings,
)
from quarry.errors import InvalidRequest, NotFound

__all__ = ["USER_HEADER", "router"]

USER_HEADER = "x-quarry-user"
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+:=-]{0,127}")
_ID = re.compile(r"conv_[0-9a-f]{24}")


class ConversationList(BaseModel):
    object: Literal["list"]
    data: list[ConversationSummary]


class ConversationDeleted(BaseModel):
    id: str
    object: Literal["conversation.deleted"]
    deleted: bool


async def _owner(request: Request) -> tuple[Owner, ConversationStore]:
    services = services_of(request)
    principal = await services.authenticate(request)
    # A toolbox user's own credential is bound to that user: whatever header it sends, it sees its own data only.
    user = principal.user or request.headers.get(USER_HEADER, "default")
    if not _USER.fullmatch(user):
        raise InvalidRequest(
            "The X-Quarry-User header must be 1 to 128 letters, digits or ._@+:=- and start with a letter or digit.",
            param="X-Quarry-User",
            code="invalid_user",
        )
    return Owner(principal=principal.key_id, user=user), context_of(request).conversations


def _conversation_id(request: Request) -> str:
    conversation_id: str = request.path_params["conversation_id"]
    if not _ID.fullmatch(conversation_id):
        raise NotFound(f"No conversation `{conversation_id}`.", param="conversation_id", code="conversation_not_found")
    return conversation_id


async def _patch(request: Request) -> ConversationPatch:
    return read_model(await read_json(request, services_of(request).settings.max_body_bytes), ConversationPatch)


@answers(ConversationList)
async def list_conversations(request: Request) -> Response:
    owner, store = await _owner(request)
    summaries = await store.list(owner)
    return json_response({"object": "list", "data": [summary.model_dump() for summary in summaries]})


@json_body(ConversationPatch)
@answers(Conversation, status=201)
async def create_conversation(request: Request) -> Response:
    owner, store = await _owner(request)
    patch = await _patch(request)
    conversation = await store.create(owner, patch, default_model=services_of(request).settings.models.default)
    return json_response(conversation.model_dump(), status=201)


@answers(Conversation)
async def get_conversation(request: Request) -> Response:
    owner, store = await _owner(request)
    conversation_id = _conversation_id(request)
    conversation = await store.get(owner, conversation_id)
    if conversation is None:
        raise NotFound(f"No conversation `{conversation_id}`.", param="conversation_id", code="conversation_not_found")
    return json_response(conversation.model_dump())


@json_body(ConversationPatch)
@answers(Conversation)
async def update_conversation(request: Request) -> Response:
    owner, store = await _owner(request)
    conversation_id = _conversation_id(request)
    conversation = await store.update(owner, conversation_id, await _patch(request))
    if conversation is None:
        raise NotFound(f"No conversation `{conversation_id}`.", param="conversation_id", code="conversation_not_found")
    return json_response(conversation.model_dump())


@answers(ConversationDeleted)
async def delete_conversation(request: Request) -> Response:
    owner, store = await _owner(request)
    conversation_id = _conversation_id(request)
    if not await store.delete(owner, conversation_id):
        raise NotFound(f"No conversation `{conversation_id}`.", param="conversation_id", code="conversation_not_found")
    return json_response({"id": conversation_id, "object": "conversation.deleted", "deleted": True})


@answers(UserSettings)
async def get_user_settings(request: Request) -> Response:
    owner, store = await _owner(request)
    stored = UserSettings.model_validate(await store.get_settings(owner))
    return json_response(stored.model_dump())


@json_body(UserSettings)
@answers(UserSettings)
async def put_user_settings(request: Request) -> Response:
    owner, store = await _owner(request)
    settings = read_model(await read_json(request, services_of(request).settings.max_body_bytes), UserSettings)
    await store.put_settings(owner, settings.model_dump())
    return json_response(settings.model_dump())


router = APIRouter()
router.add_route("/toolbox/conversations", list_conversations, methods=["GET"])
router.add_route("/toolbox/conversations", create_conversation, methods=["POST"])
router.add_route("/toolbox/conversations/{conversation_id}", get_conversation, methods=["GET"])
router.add_route("/toolbox/conversations/{conversation_id}", update_conversation, methods=["PATCH", "POST"])
router.add_route("/toolbox/conversations/{conversation_id}", delete_conversation, methods=["DELETE"])
router.add_route("/user/settings", get_user_settings, methods=["GET"])
router.add_route("/user/settings", put_user_settings, methods=["PUT"])
