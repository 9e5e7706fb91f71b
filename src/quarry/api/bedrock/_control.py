"""The `bedrock` client's reads, relayed from Bedrock's control plane and cut down to what the caller's key may
use: ListFoundationModels, GetFoundationModel, ListInferenceProfiles (Claude Code's profile discovery) and
GetInferenceProfile. A key without model patterns sees everything Quarry sees."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from quarry.api._context import context_of
from quarry.api._responses import json_response
from quarry.api.bedrock._runtime import read_body
from quarry.auth import Principal, is_sigv4, may_use_model
from quarry.bedrock import base_model_id
from quarry.errors import PermissionDenied

__all__ = ["foundation_model", "foundation_models", "inference_profile", "inference_profiles"]

# The query parameters each list takes (botocore's service model: `type` is ListInferenceProfiles' typeEquals).
_MODEL_FILTERS = ("byProvider", "byCustomizationType", "byOutputModality", "byInferenceType")
_PROFILE_PARAMETERS = {"type": "typeEquals", "maxResults": "maxResults", "nextToken": "nextToken"}


def _may_use(principal: Principal, model_id: str) -> bool:
    return may_use_model(principal, model_id, base_model_id(model_id))


def _refused(what: str) -> PermissionDenied:
    return PermissionDenied(f"This API key may not use {what}.", code="model_not_allowed")


async def _principal(request: Request, api: str) -> Principal:
    services = context_of(request).services
    if is_sigv4(request.headers.get("authorization")):
        body = await read_body(request, services.settings.max_body_bytes)  # empty on a GET, but signed all the same
        principal = await services.authenticate_signed(request, api, body)
    else:
        principal = await services.authenticate(request, api)
    await services.limit(request, principal, 0)  # a request against the key's limits, as every listing is
    return principal


async def _read(request: Request, operation: str, **params: Any) -> dict[str, Any]:
    return await context_of(request).backend.control.read(operation, **params)


async def foundation_models(request: Request) -> Response:
    """GET /foundation-models"""
    principal = await _principal(request, "bedrock.list_foundation_models")
    filters = {name: request.query_params[name] for name in _MODEL_FILTERS if name in request.query_params}
    answer = await _read(request, "list_foundation_models", **filters)
    summaries = answer.get("modelSummaries", [])
    answer["modelSummaries"] = [model for model in summaries if _may_use(principal, str(model.get("modelId", "")))]
    return json_response(answer)


async def foundation_model(request: Request, identifier: str) -> Response:
    """GET /foundation-models/{modelIdentifier}"""
    principal = await _principal(request, "bedrock.get_foundation_model")
    if not _may_use(principal, identifier):
        raise _refused(f"the model `{identifier}`")
    return json_response(await _read(request, "get_foundation_model", modelIdentifier=identifier))


def _profile_allowed(principal: Principal, profile: dict[str, Any]) -> bool:
    return _may_use(principal, str(profile.get("inferenceProfileId", "")))


async def inference_profiles(request: Request) -> Response:
    """GET /inference-profiles (`type`, `maxResults`, `nextToken`)"""
    principal = await _principal(request, "bedrock.list_inference_profiles")
    query = request.query_params
    params: dict[str, Any] = {name: query[given] for given, name in _PROFILE_PARAMETERS.items() if given in query}
    if "maxResults" in params and params["maxResults"].isascii() and params["maxResults"].isdigit():
        params["maxResults"] = int(params["maxResults"])
    answer = await _read(request, "list_inference_profiles", **params)
    summaries = answer.get("inferenceProfileSummaries", [])
    answer["inferenceProfileSummaries"] = [p for p in summaries if _profile_allowed(principal, p)]
    return json_response(answer)


async def inference_profile(request: Request, identifier: str) -> Response:
    """GET /inference-profiles/{inferenceProfileIdentifier}"""
    principal = await _principal(request, "bedrock.get_inference_profile")
    answer = await _read(request, "get_inference_profile", inferenceProfileIdentifier=identifier)
    if not _profile_allowed(principal, answer):
        raise _refused(f"the inference profile `{identifier}`")
    return json_response(answer)
