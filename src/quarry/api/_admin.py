"""The admin API under /admin, for the bootstrap (admin) key only: team keys, their budgets and usage, as the CLI
has them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._body import json_body, read_json, read_model
from quarry.api._context import context_of, services_of
from quarry.api._responses import json_response
from quarry.api._services import Services
from quarry.auth import ApiKey, Budget, KeyStore, Limits, parse_budgets, usage_report
from quarry.errors import InvalidRequest, NotFound, PermissionDenied

__all__ = ["router"]


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    models: list[str] = Field(default_factory=list)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    expires: datetime | None = None
    budgets: dict[str, float | None] = Field(default_factory=dict)  # {"usd_day": 5, "tokens_month": 1000000}
    budget_soft: float | None = Field(default=None, gt=0, le=1)  # share of each budget that warns
    fallbacks: list[str] = Field(default_factory=list, max_length=8)  # tried in order when the model cannot answer


class NewFallbacks(BaseModel):
    fallbacks: list[str] = Field(max_length=8)  # replaces the key's chain; [] removes it


class NewBudgets(BaseModel):
    budgets: dict[str, float | None] = Field(default_factory=dict)  # replaces the key's budgets; {} removes them
    soft: float | None = Field(default=None, gt=0, le=1)


def _amounts(budgets: tuple[Budget, ...]) -> dict[str, float]:
    return {budget.name: budget.amount for budget in budgets}


async def _admin_services(request: Request) -> Services:
    services = services_of(request)
    principal = await services.authenticate(request)
    if not principal.admin:
        raise PermissionDenied("The admin API needs the bootstrap key (QUARRY_API_KEY).", code="admin_only")
    return services


async def _admin(request: Request) -> tuple[Services, KeyStore]:
    services = await _admin_services(request)
    if services.keys is None:
        raise InvalidRequest("This server has no key store.")
    return services, services.keys


@json_body(NewKey)
async def create_key(request: Request) -> Response:
    services, keys = await _admin(request)
    body = read_model(await read_json(request, services.settings.max_body_bytes), NewKey)
    expires = body.expires.replace(tzinfo=body.expires.tzinfo or UTC).timestamp() if body.expires else None
    limits = Limits(body.rpm, body.tpm, body.max_concurrency)
    budgets = parse_budgets(body.budgets, body.budget_soft)  # checked before the key exists
    if budgets and services.budgets is None:
        raise InvalidRequest("This server does not enforce budgets.", param="budgets")
    key, secret = await keys.create(
        body.name, models=tuple(body.models), limits=limits, expires_at=expires, fallbacks=tuple(body.fallbacks)
    )
    if services.budgets is not None:
        await services.budgets.store.put(key.id, budgets)
    return json_response(key.public() | {"budgets": _amounts(tuple(budgets)), "key": secret}, 201)


async def list_keys(request: Request) -> Response:
    _, keys = await _admin(request)
    include_revoked = request.query_params.get("include_revoked", "").lower() in ("1", "true", "yes")
    services = services_of(request)
    budgets = await services.budgets.store.all() if services.budgets is not None else {}
    found = await keys.list(include_revoked=include_revoked)
    return json_response({"data": [key.public() | {"budgets": _amounts(budgets.get(key.id, ()))} for key in found]})


async def _key(keys: KeyStore, key_id: str) -> ApiKey:
    for key in await keys.list(include_revoked=True):
        if key.id == key_id:
            return key
    raise NotFound(f"No API key with id `{key_id}`.", param="id")


async def _shown(services: Services, key: ApiKey) -> dict[str, object]:
    """A key with each budget's state: spent, reserved by calls in progress, remaining, when it resets."""
    states = await services.budgets.state(key.id) if services.budgets is not None else []
    return key.public() | {"budgets": [state.public() for state in states]}


async def show_key(request: Request) -> Response:
    services, keys = await _admin(request)
    return json_response(await _shown(services, await _key(keys, request.path_params["key_id"])))


@json_body(NewBudgets)
async def set_budgets(request: Request) -> Response:
    services, keys = await _admin(request)
    key = await _key(keys, request.path_params["key_id"])
    body = read_model(await read_json(request, services.settings.max_body_bytes), NewBudgets)
    budgets = parse_budgets(body.budgets, body.soft)
    if services.budgets is None:
        raise InvalidRequest("This server does not enforce budgets.", param="budgets")
    await services.budgets.store.replace(key.id, budgets)
    services.budgets.forget(key.id)
    return json_response(await _shown(services, key))


@json_body(NewFallbacks)
async def set_fallbacks(request: Request) -> Response:
    services, keys = await _admin(request)
    body = read_model(await read_json(request, services.settings.max_body_bytes), NewFallbacks)
    return json_response(
        await _shown(services, await keys.set_fallbacks(request.path_params["key_id"], tuple(body.fallbacks)))
    )


async def revoke_key(request: Request) -> Response:
    _, keys = await _admin(request)
    return json_response((await keys.revoke(request.path_params["key_id"])).public())


async def usage(request: Request) -> Response:
    await _admin(request)
    by = request.query_params.get("by", "key")
    if by not in ("key", "model", "day", "api"):
        raise InvalidRequest("`by` must be key, model, day or api.", param="by")
    since = request.query_params.get("since")
    try:
        start = datetime.fromisoformat(since).replace(tzinfo=UTC).timestamp() if since else None
    except ValueError:
        raise InvalidRequest("`since` must be an ISO date, e.g. 2026-11-01.", param="since") from None
    context = context_of(request)
    await context.usage.flush()  # what is still queued belongs in the answer
    grouping: Literal["key", "model", "day", "api"] = by  # type: ignore[assignment]  # checked above
    return json_response({"data": await usage_report(context.database, grouping, since=start)})


async def circuits(request: Request) -> Response:
    """The runtime's circuit breakers, one per model and region that has failed since it last closed (closed ones
    with failures so far included): state, consecutive failures and, when open, seconds until a probe."""
    breakers = (await _admin_services(request)).runtime.breakers
    return json_response(
        {
            "failures_to_open": breakers.failures,
            "cooldown_s": breakers.cooldown_s,
            "data": [view.public() for view in breakers.views()],
        }
    )


router = APIRouter()
router.add_route("/keys", create_key, methods=["POST"])
router.add_route("/keys", list_keys, methods=["GET"])
router.add_route("/keys/{key_id}", show_key, methods=["GET"])
router.add_route("/keys/{key_id}", revoke_key, methods=["DELETE"])
router.add_route("/keys/{key_id}/budgets", set_budgets, methods=["PUT"])
router.add_route("/usage", usage, methods=["GET"])
router.add_route("/keys/{key_id}/fallbacks", set_fallbacks, methods=["PUT"])
router.add_route("/circuits", circuits, methods=["GET"])
