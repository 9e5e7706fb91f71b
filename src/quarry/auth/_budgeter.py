"""Budgets at admission: a call reserves its maximum cost (USD) and tokens in each of its key's budget windows and
its team's (all or none), is refused when one has no room, warns past a soft threshold, and settles with what it
used when it is over."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from quarry.auth._budgets import Budget, BudgetStore, iso, spent_since, team_spent_since, window
from quarry.auth._ledger import BudgetState, Charge, SpendLedger
from quarry.errors import PermissionDenied
from quarry.store import Database

__all__ = ["TEAM", "Budgeter", "Reservation"]

log = logging.getLogger("quarry.budgets")
TEAM = "team:"  # a team's windows are held under `team:NAME`, beside key ids (which start `key_`)


@dataclass(slots=True)
class Reservation:
    """One admitted call's share of its key's budgets."""

    key_id: str
    hold: str  # the call's id in the ledger
    charges: list[Charge]
    states: list[BudgetState]  # with this call's reservation in them
    warnings: list[BudgetState] = field(default_factory=list)  # the budgets past their soft threshold

    def headers(self) -> dict[str, str]:
        """What is left of each budget, and a warning for those past their soft threshold."""
        headers = {
            "x-quarry-budget-remaining": ", ".join(
                f"{c.label}={max(0.0, s.budget.amount - s.used):.4f}"
                for c, s in zip(self.charges, self.states, strict=True)
            )
        }
        if self.warnings:
            labels = {id(s): c.label for c, s in zip(self.charges, self.states, strict=True)}
            headers["x-quarry-budget-warning"] = "; ".join(
                f"{labels.get(id(s), s.budget.name)}: {s.used:.4f} of {s.budget.amount:.4f} used,"
                f" resets {iso(s.resets)}"
                for s in self.warnings
            )
        return headers


class Budgeter:
    """Budgets of team keys, read through a short cache (a change made by the CLI on another process is seen
    within `ttl_s`), held in a `SpendLedger`."""

    def __init__(
        self,
        store: BudgetStore,
        ledger: SpendLedger,
        database: Database,
        *,
        soft: float = 0.8,
        ttl_s: float = 1.0,
        on_warning: Callable[[str, str], None] | None = None,  # (measure, period): the metric
        teams: BudgetStore | None = None,
    ) -> None:
        self.store = store
        self.teams = teams if teams is not None else BudgetStore(database, teams=True)
        self.ledger = ledger
        self._db = database
        self._soft = soft
        self._ttl_s = ttl_s
        self._on_warning = on_warning
        self._cache: dict[str, tuple[float, tuple[Budget, ...], str | None, tuple[Budget, ...]]] = {}

    async def budgets(self, key_id: str) -> tuple[Budget, ...]:
        return (await self._budgets(key_id))[0]

    async def _budgets(self, key_id: str) -> tuple[tuple[Budget, ...], str | None, tuple[Budget, ...]]:
        """The key's budgets, its team, and the team's budgets."""
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1:]
        budgets = await self.store.get(key_id)
        row = await self._db.fetchrow("SELECT team FROM api_keys WHERE id = ?", key_id)
        team = row["team"] if row is not None else None
        team_budgets = await self.teams.get(team) if team else ()
        self._cache[key_id] = (now, budgets, team, team_budgets)
        return budgets, team, team_budgets

    async def _seed(self, holder: str, since: float) -> tuple[float, int]:
        if holder.startswith(TEAM):
            return await team_spent_since(self._db, holder.removeprefix(TEAM), since)
        return await spent_since(self._db, holder, since)

    @staticmethod
    def _charges(budgets: tuple[Budget, ...], usd: float, tokens: int, team: str | None = None) -> list[Charge]:
        now = time.time()
        owner = TEAM + team if team else None
        return [Charge(b, *window(b.period, now), usd if b.measure == "usd" else float(tokens), owner) for b in budgets]

    async def reserve(self, key_id: str, model: str, usd: float | None, tokens: int) -> Reservation | None:
        """Reserve a call's maximum `usd` (None: its model has no price) and `tokens`; None when the key has no
        budgets. Raises BudgetExceeded, or PermissionDenied for an unpriced model under a USD budget."""
        own, team, team_budgets = await self._budgets(key_id)
        if not own and not team_budgets:
            return None
        if usd is None and any(b.measure == "usd" for b in (*own, *team_budgets)):
            raise PermissionDenied(
                f"This API key (or its team) has a budget in US dollars, and the model `{model}` has no price in"
                " Quarry's price table, so its cost cannot be counted. An operator can give it one"
                " (spend.prices_file).",
                param="model",
                code="model_not_priced",
            )
        charges = [*self._charges(own, usd or 0.0, tokens), *self._charges(team_budgets, usd or 0.0, tokens, team)]
        hold = secrets.token_hex(16)
        states = await self.ledger.reserve(key_id, hold, charges, self._seed)
        reservation = Reservation(key_id, hold, charges, states)
        for charge, state in zip(charges, states, strict=True):
            if state.used >= state.budget.amount * (state.budget.soft or self._soft):
                reservation.warnings.append(state)
                log.warning(
                    "%s has used %.4f of its budget of %s (resets %s)",
                    f"Team {team}" if charge.owner else f"API key {key_id}",
                    state.used, state.budget.describe(), iso(state.resets),
                )  # fmt: skip
                if self._on_warning is not None:
                    self._on_warning(state.budget.measure, state.budget.period)
        return reservation

    async def settle(self, reservation: Reservation, usd: float | None, tokens: int) -> None:
        actual = [(usd or 0.0) if c.budget.measure == "usd" else float(tokens) for c in reservation.charges]
        await self.ledger.settle(reservation.key_id, reservation.hold, reservation.charges, actual)

    async def state(self, key_id: str) -> list[BudgetState]:
        """Each budget of the key in its current window: spent, reserved by calls in progress, when it resets."""
        budgets = await self.store.get(key_id)
        return await self.ledger.state(key_id, self._charges(budgets, 0.0, 0), self._seed)

    async def team_state(self, team: str) -> list[BudgetState]:
        """Each budget of the team in its current window, its keys' calls summed."""
        budgets = await self.teams.get(team)
        return await self.ledger.state(TEAM + team, self._charges(budgets, 0.0, 0, team), self._seed)

    def forget(self, key_id: str | None = None) -> None:
        """Drop the cached budgets of a key (they were just changed here), or of every key (a team's changed)."""
        if key_id is None:
            self._cache.clear()
        else:
            self._cache.pop(key_id, None)

    async def aclose(self) -> None:
        await self.ledger.aclose()
