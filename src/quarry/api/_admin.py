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
from quarry.auth import (
    ApiKey,
    AwsCredential,
    AwsCredentialStore,
    Budget,
    KeyStore,
    Limits,
    parse_budgets,
    usage_report,
)
from quarry.errors import InvalidRequest, NotFound, PermissionDenied
from quarry.settings import GuardrailSettings

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
    guardrail: GuardrailSettings | None = None  # the key's own Bedrock guardrail, over the server's [guardrails]
    aws: bool = False  # also issue an AWS access key id and secret for the key (SigV4 on the Bedrock routes)
    fallbacks: list[str] = Field(default_factory=list, max_length=8)  # tried in order when the model cannot answer
    team: str | None = Field(default=None, max_length=64)  # its calls count against the team's budgets too


class KeyGuardrail(BaseModel):
    guardrail: GuardrailSettings | None = None  # None removes the key's own guardrail


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
    credentials = _aws(services) if body.aws else None  # refused before the key exists
    key, secret = await keys.create(
        body.name,
        models=tuple(body.models),
        limits=limits,
        expires_at=expires,
        fallbacks=tuple(body.fallbacks),
        team=body.team,
    )
    if services.budgets is not None:
        await services.budgets.store.put(key.id, budgets)
    if body.guardrail is not None and services.key_guardrails is not None:
        await services.key_guardrails.put(key.id, body.guardrail)
    made = key.public() | {"budgets": _amounts(tuple(budgets)), "guardrail": _guardrail(body.guardrail), "key": secret}
    if credentials is not None:
        made |= _issued(*await credentials.issue(key))
    return json_response(made, 201)


def _aws(services: Services) -> AwsCredentialStore:
    if services.signatures is None:
        raise InvalidRequest("This server takes no SigV4 signatures, so it issues no AWS credentials.", param="aws")
    return services.signatures.credentials


def _issued(credential: AwsCredential, secret: str) -> dict[str, object]:
    """An issued credential as shown once: the pair an AWS SDK takes."""
    return credential.public() | {"aws_secret_access_key": secret}


async def _aws_ids(services: Services) -> dict[str, str]:
    """The AWS access key id of each key that has one."""
    if services.signatures is None:
        return {}
    return {key_id: c.access_key_id for key_id, c in (await services.signatures.credentials.of_keys()).items()}


async def list_keys(request: Request) -> Response:
    _, keys = await _admin(request)
    include_revoked = request.query_params.get("include_revoked", "").lower() in ("1", "true", "yes")
    services = services_of(request)
    budgets = await services.budgets.store.all() if services.budgets is not None else {}
    guardrails = await services.key_guardrails.all() if services.key_guardrails is not None else {}
    found = await keys.list(include_revoked=include_revoked)
    aws = await _aws_ids(services)
    return json_response(
        {
            "data": [
                key.public()
                | {
                    "budgets": _amounts(budgets.get(key.id, ())),
                    "guardrail": _guardrail(guardrails.get(key.id)),
                    "aws_access_key_id": aws.get(key.id),
                }
                for key in found
            ]
        }
    )


async def _key(keys: KeyStore, key_id: str) -> ApiKey:
    for key in await keys.list(include_revoked=True):
        if key.id == key_id:
            return key
    raise NotFound(f"No API key with id `{key_id}`.", param="id")


async def _shown(services: Services, key: ApiKey) -> dict[str, object]:
    """A key with each budget's state: spent, reserved by calls in progress, remaining, when it resets."""
    states = await services.budgets.state(key.id) if services.budgets is not None else []
    guardrail = await services.key_guardrails.get(key.id) if services.key_guardrails is not None else None
    aws = (await _aws_ids(services)).get(key.id)
    return key.public() | {
        "budgets": [state.public() for state in states],
        "guardrail": _guardrail(guardrail),
        "aws_access_key_id": aws,
    }


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


@json_body(KeyGuardrail)
async def set_guardrail(request: Request) -> Response:
    services, keys = await _admin(request)
    key = await _key(keys, request.path_params["key_id"])
    body = read_model(await read_json(request, services.settings.max_body_bytes), KeyGuardrail)
    if services.key_guardrails is None:
        raise InvalidRequest("This server keeps no per-key guardrails.", param="guardrail")
    await services.key_guardrails.put(key.id, body.guardrail)
    return json_response(await _shown(services, key))


def _guardrail(guardrail: GuardrailSettings | None) -> dict[str, str] | None:
    return guardrail.model_dump() if guardrail is not None else None


@json_body(NewFallbacks)
async def set_fallbacks(request: Request) -> Response:
    services, keys = await _admin(request)
    body = read_model(await read_json(request, services.settings.max_body_bytes), NewFallbacks)
    return json_response(
        await _shown(services, await keys.set_fallbacks(request.path_params["key_id"], tuple(body.fallbacks)))
    )


async def revoke_key(request: Request) -> Response:
    services, keys = await _admin(request)
    revoked = await keys.revoke(request.path_params["key_id"])
    if services.signatures is not None:  # its AWS credentials end with it
        await services.signatures.credentials.remove(revoked.id)
    return json_response(revoked.public())


async def issue_aws(request: Request) -> Response:
    """POST /admin/keys/{id}/aws: an AWS access key id and secret for the key, replacing any it had (rotation)."""
    services, keys = await _admin(request)
    credentials = _aws(services)
    key = await _key(keys, request.path_params["key_id"])
    return json_response(key.public() | _issued(*await credentials.issue(key)), 201)


async def remove_aws(request: Request) -> Response:
    """DELETE /admin/keys/{id}/aws: the key's AWS credentials removed; the key itself goes on working."""
    services, keys = await _admin(request)
    key = await _key(keys, request.path_params["key_id"])
    removed = await _aws(services).remove(key.id)
    if not removed:
        raise NotFound(f"The API key `{key.id}` has no AWS credentials.", param="id")
    return json_response(key.public() | {"aws_access_key_id": None})


async def usage(request: Request) -> Response:
    await _admin(request)
    by = request.query_params.get("by", "key")
    if by not in ("key", "model", "day", "api", "tier"):
        raise InvalidRequest("`by` must be key, model, day, api or tier.", param="by")
    since = request.query_params.get("since")
    try:
        start = datetime.fromisoformat(since).replace(tzinfo=UTC).timestamp() if since else None
    except ValueError:
        raise InvalidRequest("`since` must be an ISO date, e.g. 2026-11-01.", param="since") from None
    context = context_of(request)
    await context.usage.flush()  # what is still queued belongs in the answer
    grouping: Literal["key", "model", "day", "api", "tier"] = by  # type: ignore[assignment]  # checked above
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
router.add_route("/keys/{key_id}/guardrail", set_guardrail, methods=["PUT"])
router.add_route("/keys/{key_id}/aws", issue_aws, methods=["POST"])
router.add_route("/keys/{key_id}/aws", remove_aws, methods=["DELETE"])
router.add_route("/usage", usage, methods=["GET"])
router.add_route("/keys/{key_id}/fallbacks", set_fallbacks, methods=["PUT"])
router.add_route("/circuits", circuits, methods=["GET"])
