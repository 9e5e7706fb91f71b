"""What keys have spent and reserved against their budgets, decided atomically: a call reserves its maximum cost
in every budget window of its key, or in none, and settles with what it actually cost when it is over. So however
many calls race for a nearly spent budget, what is spent never passes the budget by more than the amount one call
spends beyond its own maximum (nothing, when the maximum holds).

`InProcessLedger` serves one instance (the embedded default); `RedisLedger` (`_redis_ledger.py`) shares the same
rule between many. Both start a window from the usage records (`seed`), so a restart or a new Redis keeps what
was spent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from quarry.auth._budgets import Budget, iso
from quarry.errors import BudgetExceeded

__all__ = ["BudgetState", "Charge", "InProcessLedger", "Seed", "SpendLedger", "exceeded"]

# owner (a key id, or `team:NAME`), window start → what its usage records say it spent since: (USD, tokens)
Seed = Callable[[str, float], Awaitable[tuple[float, int]]]


@dataclass(frozen=True, slots=True)
class Charge:
    """One budget window a call is charged to, and the amount (USD or tokens, as the budget counts)."""

    budget: Budget
    start: float
    resets: float
    amount: float
    owner: str | None = None  # whose window: None is the calling key's own, `team:NAME` its team's

    def holder(self, key_id: str) -> str:
        """The id the window is kept under: the key's, or its team's (`team:NAME`)."""
        return self.owner or key_id

    @property
    def label(self) -> str:
        """The budget as headers and refusals name it: `usd_day`, or `team:ops/usd_day` for a team's."""
        return f"{self.owner}/{self.budget.name}" if self.owner else self.budget.name


@dataclass(frozen=True, slots=True)
class BudgetState:
    budget: Budget
    start: float
    resets: float
    spent: float
    reserved: float  # by calls still running

    @property
    def used(self) -> float:
        return self.spent + self.reserved

    def public(self) -> dict[str, object]:
        return {
            "budget": self.budget.name,
            "measure": self.budget.measure,
            "period": self.budget.period,
            "amount": self.budget.amount,
            "soft": self.budget.soft,
            "spent": round(self.spent, 6),
            "reserved": round(self.reserved, 6),
            "remaining": round(max(0.0, self.budget.amount - self.used), 6),
            "period_start": iso(self.start),
            "resets_at": iso(self.resets),
        }


def exceeded(charge: Charge, spent: float, reserved: float) -> BudgetExceeded:
    """The refusal for a call whose maximum does not fit in what is left of a budget."""
    budget = charge.budget
    unit, places = ("USD", 4) if budget.measure == "usd" else ("tokens", 0)
    resets = iso(charge.resets)
    what = f"This API key's budget of {budget.describe()}"
    if charge.owner:  # the team's, which the key's calls count against with its other keys' calls
        what = f"The budget of {budget.describe()} of this API key's team, {charge.owner.removeprefix('team:')},"
    return BudgetExceeded(
        f"{what} is used up: {spent:.{places}f} {unit} spent and"
        f" {reserved:.{places}f} reserved by calls in progress, and this request may use up to"
        f" {charge.amount:.{places}f} {unit} (its input and max_tokens). The budget resets at {resets}.",
        budget=charge.label,
        resets_at=resets,
        retry_after=max(1.0, charge.resets - time.time()),
    )


class SpendLedger(Protocol):
    async def reserve(self, key_id: str, hold: str, charges: Sequence[Charge], seed: Seed) -> list[BudgetState]:
        """Reserve every charge or none, as the call `hold` (a unique id), each in the window of its holder (the
        key, or its team); BudgetExceeded names the first budget a charge does not fit in. Returns each budget's
        state with this reservation in it."""
        ...

    async def settle(self, key_id: str, hold: str, charges: Sequence[Charge], actual: Sequence[float]) -> None:
        """The call `hold` is over: release its reservations and count what it actually used."""
        ...

    async def state(self, key_id: str, charges: Sequence[Charge], seed: Seed) -> list[BudgetState]:
        """The windows' spent and reserved amounts (the charges' amounts are ignored)."""
        ...

    async def aclose(self) -> None: ...


def _slot(key_id: str, charge: Charge) -> tuple[str, str, float]:
    return charge.holder(key_id), charge.budget.name, charge.start


class InProcessLedger:
    """The rule in this process's memory. Each decision runs without an await between its check and its update,
    which on one event loop makes it atomic; the windows' starting amounts come from the usage records."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, float], list[float]] = {}  # slot → [spent, reserved]

    async def _load(self, key_id: str, charges: Sequence[Charge], seed: Seed) -> None:
        for charge in charges:
            slot = _slot(key_id, charge)
            if slot in self._windows:
                continue
            usd, tokens = await seed(slot[0], charge.start)
            # Another call may have loaded it while this one awaited; its figures are as good and may have moved.
            self._windows.setdefault(slot, [usd if charge.budget.measure == "usd" else float(tokens), 0.0])
            for old in [s for s in self._windows if s[:2] == slot[:2] and s[2] < charge.start]:
                del self._windows[old]  # a window that has ended

    def _states(self, key_id: str, charges: Sequence[Charge]) -> list[BudgetState]:
        states = []
        for charge in charges:
            spent, reserved = self._windows[_slot(key_id, charge)]
            states.append(BudgetState(charge.budget, charge.start, charge.resets, spent, reserved))
        return states

    async def reserve(self, key_id: str, hold: str, charges: Sequence[Charge], seed: Seed) -> list[BudgetState]:
        await self._load(key_id, charges, seed)
        # From here to the return there is no await: no other call can interleave.
        for charge in charges:
            spent, reserved = self._windows[_slot(key_id, charge)]
            if spent + reserved + charge.amount > charge.budget.amount:
                raise exceeded(charge, spent, reserved)
        for charge in charges:
            self._windows[_slot(key_id, charge)][1] += charge.amount
        return self._states(key_id, charges)

    async def settle(self, key_id: str, hold: str, charges: Sequence[Charge], actual: Sequence[float]) -> None:
        for charge, used in zip(charges, actual, strict=True):
            window = self._windows.get(_slot(key_id, charge))
            if window is not None:  # else the window has ended, and the next was seeded from the usage records
                window[0] += used
                window[1] = max(0.0, window[1] - charge.amount)

    async def state(self, key_id: str, charges: Sequence[Charge], seed: Seed) -> list[BudgetState]:
        await self._load(key_id, charges, seed)
        return self._states(key_id, charges)

    async def aclose(self) -> None:
        return None
