"""`GET /v1/models`: the model catalog in OpenAI's shape, or in Anthropic's when the caller is an Anthropic client
(it sends `anthropic-version`).

OpenAI's shape carries `id`, `object`, `created`, `owned_by`; for the models Quarry has facts on, fields beside
them say what a caller may ask of the model (OpenAI's clients keep unknown fields: openai-python's models allow
extras): `context_window`, `max_output_tokens`, `thinking` (`adaptive`, `budget`, `effort` or `none`: how
`reasoning_effort` is served), `thinking_always_on`, `effort_levels` and `default_effort`. An alias shows the
model it calls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, RootModel
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._context import context_of, services_of
from quarry.api._core import thinking_mode
from quarry.api._published import answers
from quarry.api._responses import json_response
from quarry.auth import knowledge_base_model, may_read, may_use_model
from quarry.bedrock import ModelEntry, ResolvedModel, base_model_id, facts_for
from quarry.errors import ModelNotFound

__all__ = ["router", "wants_anthropic"]


# The published shapes of the answers below (written as dicts; tests/api/test_openapi.py holds the two together).
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class OpenAIModel(_Open):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class AnthropicModel(_Open):
    type: Literal["model"]
    id: str
    display_name: str
    created_at: str


class OpenAIModelList(_Open):
    object: Literal["list"]
    data: list[OpenAIModel]


class AnthropicModelList(_Open):
    data: list[AnthropicModel]
    has_more: bool
    first_id: str | None
    last_id: str | None


class ModelList(RootModel[OpenAIModelList | AnthropicModelList]):
    """OpenAI's list, or Anthropic's for a caller that sends `anthropic-version`."""


class ModelInfo(RootModel[OpenAIModel | AnthropicModel]):
    """OpenAI's model object, or Anthropic's for a caller that sends `anthropic-version`."""


def wants_anthropic(request: Request) -> bool:
    return "anthropic-version" in request.headers


def _openai(entry: ModelEntry) -> dict[str, object]:
    model: dict[str, object] = {"id": entry.id, "object": "model", "created": entry.created, "owned_by": entry.owned_by}
    called = entry.target or entry.id
    facts = facts_for(called)
    if not facts.known or "embeddings" in facts.features:
        return model
    if entry.target:
        model["target"] = entry.target
    model["context_window"] = facts.context_window
    model["max_output_tokens"] = facts.max_output_tokens
    model["thinking"] = thinking_mode(ResolvedModel(requested=called, id=called, facts=facts))
    model["thinking_always_on"] = facts.thinking_always_on
    model["effort_levels"] = list(facts.effort_levels)
    model["default_effort"] = facts.default_effort
    return model


def _anthropic(entry: ModelEntry) -> dict[str, object]:
    created = datetime.fromtimestamp(entry.created, UTC).isoformat().replace("+00:00", "Z")
    return {"type": "model", "id": entry.id, "display_name": entry.id, "created_at": created}


@answers(ModelList)
async def list_models(request: Request) -> Response:
    services = services_of(request)
    principal = await services.authenticate(request, "models")
    await services.limit(request, principal, 0)  # the catalog may have to ask Bedrock's control plane
    entries = await services.catalog.entries()
    # The names admission checks (Services.check_scope): requested, called, and the foundation model behind it.
    entries = [
        entry
        for entry in entries
        if may_use_model(principal, entry.id, entry.target or "", base_model_id(entry.target or entry.id))
    ]
    if wants_anthropic(request):
        data = [_anthropic(entry) for entry in entries]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return json_response({"data": data, "has_more": False, "first_id": first, "last_id": last})
    data = [_openai(entry) for entry in entries]
    knowledge = context_of(request).knowledge
    if knowledge is not None:  # chat UIs offer what /v1/models lists: `kb:NAME` answers from a knowledge base
        for entry in await knowledge.list():
            if may_read(principal, entry):
                name, created = knowledge_base_model(entry.name), int(entry.config.created_at)
                data.append({"id": name, "object": "model", "created": created, "owned_by": "quarry"})
    return json_response({"object": "list", "data": data})


@answers(ModelInfo)
async def get_model(request: Request) -> Response:
    model_id: str = request.path_params["model_id"]
    services = services_of(request)
    principal = await services.authenticate(request, "models")
    await services.limit(request, principal, 0)
    entry = await services.catalog.get(model_id)
    if entry is None:
        raise ModelNotFound(f"The model `{model_id}` does not exist.", param="model")
    return json_response(_anthropic(entry) if wants_anthropic(request) else _openai(entry))


router = APIRouter()
router.add_route("/models", list_models, methods=["GET"])
router.add_route("/models/{model_id:path}", get_model, methods=["GET"])
