"""The admin API's teams: a key's team, and each team's budgets with their state (spent by the team's keys,
reserved by their calls in progress, remaining, when each resets). For the bootstrap key only, as the rest of /admin."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._admin import NewBudgets, _admin, _key, _shown
from quarry.api._body import json_body, read_json, read_model
from quarry.api._responses import json_response
from quarry.api._services import Services
from quarry.auth import Budgeter, check_team, parse_budgets
from quarry.errors import InvalidRequest

__all__ = ["teams_router"]


class KeyTeam(BaseModel):
    team: str | None = Field(default=None, max_length=64)  # None: the key belongs to no team


def _budgeter(services: Services) -> Budgeter:
    if services.budgets is None:
        raise InvalidRequest("This server does not enforce budgets.", param="budgets")
    return services.budgets


async def _team(budgets: Budgeter, team: str, keys: list[str]) -> dict[str, object]:
    return {
        "team": team,
        "keys": keys,
        "budgets": [state.public() for state in await budgets.team_state(team)],
    }


@json_body(KeyTeam)
async def set_key_team(request: Request) -> Response:
    """PUT /admin/keys/{id}/team: the key's calls count against that team's budgets too (null: no team)."""
    services, keys = await _admin(request)
    body = read_model(await read_json(request, services.settings.max_body_bytes), KeyTeam)
    key = await keys.set_team((await _key(keys, request.path_params["key_id"])).id, body.team)
    if services.budgets is not None:
        services.budgets.forget(key.id)
    return json_response(await _shown(services, key))


async def _members(services: Services, team: str) -> list[str]:
    assert services.keys is not None  # checked by _admin
    return [key.id for key in await services.keys.list() if key.team == team]


async def list_teams(request: Request) -> Response:
    """GET /admin/teams: every team that has keys or budgets, with its budgets' state."""
    services, keys = await _admin(request)
    budgets = _budgeter(services)
    members: dict[str, list[str]] = {}
    for key in await keys.list():
        if key.team is not None:
            members.setdefault(key.team, []).append(key.id)
    names = sorted({*members, *await budgets.teams.all()})
    return json_response({"data": [await _team(budgets, name, members.get(name, [])) for name in names]})


async def show_team(request: Request) -> Response:
    """GET /admin/teams/{team}/budgets: the team's budgets in their current periods, and its keys."""
    services, _ = await _admin(request)
    team = check_team(request.path_params["team"])
    return json_response(await _team(_budgeter(services), team, await _members(services, team)))


@json_body(NewBudgets)
async def set_team_budgets(request: Request) -> Response:
    """PUT /admin/teams/{team}/budgets: replaces the team's budgets ({} removes them)."""
    services, _ = await _admin(request)
    team = check_team(request.path_params["team"])
    body = read_model(await read_json(request, services.settings.max_body_bytes), NewBudgets)
    new = parse_budgets(body.budgets, body.soft)
    budgets = _budgeter(services)
    await budgets.teams.replace(team, new)
    budgets.forget()  # every key of the team reads the new budgets now, not after the cache's second
    return json_response(await _team(budgets, team, await _members(services, team)))


teams_router = APIRouter()
teams_router.add_route("/keys/{key_id}/team", set_key_team, methods=["PUT"])
teams_router.add_route("/teams", list_teams, methods=["GET"])
teams_router.add_route("/teams/{team}/budgets", show_team, methods=["GET"])
teams_router.add_route("/teams/{team}/budgets", set_team_budgets, methods=["PUT"])
