"""Budgets at admission: a call reserves its maximum cost (USD) and tokens in each of its key's budget windows, is
refused when one has no room, warns past a soft threshold, and settles with what it used when it is over."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from quarry.auth._budgets import Budget, BudgetStore, iso, spent_since, window
from quarry.auth._ledger import BudgetState, Charge, SpendLedger
from quarry.errors import PermissionDenied
from quarry.store import Database

__all__ = ["Budgeter", "Reservation"]

log = logging.getLogger("quarry.budgets")


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
                f"{s.budget.name}={max(0.0, s.budget.amount - s.used):.4f}" for s in self.states
            )
        }
        if self.warnings:
            headers["x-quarry-budget-warning"] = "; ".join(
                f"{s.budget.name}: {s.used:.4f} of {s.budget.amount:.4f} used, resets {iso(s.resets)}"
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
    ) -> None:
        self.store = store
        self.ledger = ledger
        self._db = database
        self._soft = soft
        self._ttl_s = ttl_s
        self._on_warning = on_warning
        self._cache: dict[str, tuple[float, tuple[Budget, ...]]] = {}

    async def budgets(self, key_id: str) -> tuple[Budget, ...]:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        budgets = await self.store.get(key_id)
        self._cache[key_id] = (now, budgets)
        return budgets

    async def _seed(self, key_id: str, since: float) -> tuple[float, int]:
        return await spent_since(self._db, key_id, since)

    @staticmethod
    def _charges(budgets: tuple[Budget, ...], usd: float, tokens: int) -> list[Charge]:
        now = time.time()
        return [Charge(b, *window(b.period, now), usd if b.measure == "usd" else float(tokens)) for b in budgets]

    async def reserve(self, key_id: str, model: str, usd: float | None, tokens: int) -> Reservation | None:
        """Reserve a call's maximum `usd` (None: its model has no price) and `tokens`; None when the key has no
        budgets. Raises BudgetExceeded, or PermissionDenied for an unpriced model under a USD budget."""
        budgets = await self.budgets(key_id)
        if not budgets:
            return None
        if usd is None and any(b.measure == "usd" for b in budgets):
            raise PermissionDenied(
                f"This API key has a budget in US dollars, and the model `{model}` has no price in Quarry's price"
                " table, so its cost cannot be counted. An operator can give it one (spend.prices_file).",
                param="model",
                code="model_not_priced",
            )
        charges = self._charges(budgets, usd or 0.0, tokens)
        hold = uuid.uuid4().hex
        states = await self.ledger.reserve(key_id, hold, charges, self._seed)
        reservation = Reservation(key_id, hold, charges, states)
        for state in states:
            if state.used >= state.budget.amount * (state.budget.soft or self._soft):
                reservation.warnings.append(state)
                log.warning(
                    "API key %s has used %.4f of its budget of %s (resets %s)",
                    key_id, state.used, state.budget.describe(), iso(state.resets),
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

    def forget(self, key_id: str) -> None:
        """Drop the cached budgets of a key (they were just changed here)."""
        self._cache.pop(key_id, None)

    async def aclose(self) -> None:
        await self.ledger.aclose()
