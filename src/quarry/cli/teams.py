"""`quarry teams`: teams (named on their keys) and their budgets, which every call of their keys counts against
beside the key's own."""

from __future__ import annotations

import time
from typing import Any

import click

from quarry.auth import BUDGET_NAMES, Budget, BudgetStore, KeyStore, check_team, team_spent_since, window
from quarry.cli.keys import _budget_line, _budget_options, _budgets, _echo_json, _run
from quarry.errors import QuarryError
from quarry.store import Database

__all__ = ["teams"]


def _name(team: str) -> str:
    try:
        return check_team(team)
    except QuarryError as exc:
        raise click.BadParameter(exc.message) from None


@click.group()
def teams() -> None:
    """Teams: the keys in each, and budgets shared by those keys (`quarry keys create --team T`, `quarry keys team`)."""


@teams.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_teams(as_json: bool) -> None:
    """Every team that has keys or budgets."""

    async def read(db: Database) -> tuple[dict[str, int], dict[str, tuple[Budget, ...]]]:
        return await KeyStore(db).teams(), await BudgetStore(db, teams=True).all()

    members, budgets = _run(read)
    names = sorted({*members, *budgets})
    if as_json:
        _echo_json([{"team": n, "keys": members.get(n, 0), "budgets": _amounts(budgets.get(n, ()))} for n in names])
        return
    click.echo(f"{'TEAM':<24} {'KEYS':>5}  BUDGETS")
    for name in names:
        shown = ", ".join(f"{b.name}={b.amount:g}" for b in budgets.get(name, ())) or "-"
        click.echo(f"{name:<24} {members.get(name, 0):>5}  {shown}")


def _amounts(budgets: tuple[Budget, ...]) -> dict[str, float]:
    return {budget.name: budget.amount for budget in budgets}


@teams.command("show")
@click.argument("team")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(team: str, as_json: bool) -> None:
    """A team's keys and budgets: what its keys spent in each budget's period (from the usage records; calls still
    running are not in them) and when it resets."""
    team = _name(team)

    async def read(db: Database) -> tuple[list[str], list[tuple[Budget, float]]]:
        keys = [f"{k.id} ({k.name})" for k in await KeyStore(db).list() if k.team == team]
        budgets = []
        for budget in await BudgetStore(db, teams=True).get(team):
            usd, tokens = await team_spent_since(db, team, window(budget.period, time.time())[0])
            budgets.append((budget, usd if budget.measure == "usd" else float(tokens)))
        return keys, budgets

    keys, budgets = _run(read)
    if as_json:
        shown = [
            {"budget": b.name, "amount": b.amount, "soft": b.soft, "spent": round(spent, 6)} for b, spent in budgets
        ]
        _echo_json({"team": team, "keys": keys, "budgets": shown})
        return
    click.echo(f"team {team}: {', '.join(keys) or 'no keys'}")
    click.echo("budgets:" if budgets else "no budgets")
    for budget, spent in budgets:
        click.echo(_budget_line(budget, spent))


@teams.command("budget")
@click.argument("team")
@_budget_options("")
@click.option("--remove", multiple=True, type=click.Choice(BUDGET_NAMES), help="Remove this budget (repeat).")
@click.option("--clear", is_flag=True, help="Remove every budget of the team first.")
def budget(team: str, remove: tuple[str, ...], clear: bool, **budget_options: Any) -> None:
    """Set a team's budgets, e.g. `quarry teams budget research --usd-month 500`; running servers apply them within
    a second."""
    team = _name(team)
    budgets = _budgets(budget_options)

    async def change(db: Database) -> None:
        store = BudgetStore(db, teams=True)
        if clear:
            await store.remove(team)
        if remove:
            await store.remove(team, remove)
        await store.put(team, budgets)

    _run(change)
    click.echo(f"Budgets of team {team} set; `quarry teams show {team}` shows them.")
