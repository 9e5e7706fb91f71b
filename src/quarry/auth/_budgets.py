"""Budgets per key or team: so many US dollars or tokens per calendar day, week (from Monday) or month, in UTC,
with a soft threshold that warns. Kept in the `key_budgets` and `team_budgets` tables; what has been spent is summed
from the usage records (a team's: those of the keys that belong to it now)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from quarry.errors import InvalidRequest
from quarry.store import Database

__all__ = [
    "BUDGET_NAMES",
    "Budget",
    "BudgetStore",
    "Measure",
    "Period",
    "iso",
    "parse_budgets",
    "spent_since",
    "team_spent_since",
    "window",
]

Measure = Literal["usd", "tokens"]
Period = Literal["day", "week", "month"]
# The names budgets go by in the API, the CLI's flags and headers: usd_day, tokens_month, …
BUDGET_NAMES = tuple(f"{m}_{p}" for m in get_args(Measure) for p in get_args(Period))


@dataclass(frozen=True, slots=True)
class Budget:
    measure: Measure
    period: Period
    amount: float  # USD, or tokens (input, output and cached, as Bedrock counts them)
    soft: float | None = None  # share of `amount` that warns; None: the server's default

    @property
    def name(self) -> str:
        return f"{self.measure}_{self.period}"

    def describe(self) -> str:
        """`$5.00 per day`, `1000000 tokens per month`."""
        if self.measure == "tokens":
            return f"{self.amount:.0f} tokens per {self.period}"
        cents = round(self.amount, 2) == self.amount  # $5.00, but $0.005 rather than $0.01
        return f"${self.amount:.2f} per {self.period}" if cents else f"${self.amount:g} per {self.period}"


def window(period: Period, now: float) -> tuple[float, float]:
    """The calendar period (UTC) holding `now`: its start and its end (when the budget resets), epoch seconds."""
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start.timestamp(), end.timestamp()


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_budgets(amounts: dict[str, float | None], soft: float | None = None) -> list[Budget]:
    """Budgets from `{"usd_day": 5, "tokens_month": 1e6}` (a None amount: none); InvalidRequest names a bad one."""
    budgets = []
    for name, amount in amounts.items():
        if name not in BUDGET_NAMES:
            raise InvalidRequest(f"`{name}` is not a budget; budgets are {', '.join(BUDGET_NAMES)}.", param="budgets")
        if amount is None:
            continue
        if not 0 < amount < 1e15:
            raise InvalidRequest(f"The budget {name} must be a positive amount.", param="budgets")
        measure, _, period = name.partition("_")
        budgets.append(Budget(measure, period, float(amount), soft))  # type: ignore[arg-type]  # checked by name
    if soft is not None and not 0 < soft <= 1:
        raise InvalidRequest("The soft threshold is a share of the budget, above 0 and at most 1.", param="soft")
    return budgets


async def spent_since(database: Database, key_id: str, since: float) -> tuple[float, int]:
    """What a key's recorded calls since `since` cost: (USD, tokens)."""
    row = await database.fetchrow(
        "SELECT COALESCE(SUM(cost_usd), 0) AS usd,"
        " COALESCE(SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), 0) AS tokens"
        " FROM usage WHERE key_id = ? AND at >= ?",
        key_id,
        since,
    )
    return (float(row["usd"]), int(row["tokens"])) if row is not None else (0.0, 0)


async def team_spent_since(database: Database, team: str, since: float) -> tuple[float, int]:
    """What the calls of a team's keys since `since` cost: (USD, tokens)."""
    row = await database.fetchrow(
        "SELECT COALESCE(SUM(cost_usd), 0) AS usd,"
        " COALESCE(SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), 0) AS tokens"
        " FROM usage WHERE key_id IN (SELECT id FROM api_keys WHERE team = ?) AND at >= ?",
        team,
        since,
    )
    return (float(row["usd"]), int(row["tokens"])) if row is not None else (0.0, 0)


class BudgetStore:
    """Budgets of keys (`key_budgets`), or with `teams=True` of teams (`team_budgets`), by key id or team name."""

    def __init__(self, database: Database, *, teams: bool = False) -> None:
        self._db = database
        # Fixed names, never input: safe to put in the SQL.
        self._table, self._owner = ("team_budgets", "team") if teams else ("key_budgets", "key_id")

    async def get(self, key_id: str) -> tuple[Budget, ...]:
        rows = await self._db.fetch(
            f"SELECT measure, period, amount, soft FROM {self._table} WHERE {self._owner} = ?"  # noqa: S608  # fixed names
            " ORDER BY measure, period",
            key_id,
        )
        return tuple(Budget(row["measure"], row["period"], row["amount"], row["soft"]) for row in rows)

    async def all(self) -> dict[str, tuple[Budget, ...]]:
        found: dict[str, list[Budget]] = {}
        query = f"SELECT * FROM {self._table} ORDER BY {self._owner}, measure, period"  # noqa: S608  # fixed names
        for row in await self._db.fetch(query):
            found.setdefault(row[self._owner], []).append(
                Budget(row["measure"], row["period"], row["amount"], row["soft"])
            )
        return {key: tuple(budgets) for key, budgets in found.items()}

    async def put(self, key_id: str, budgets: Sequence[Budget]) -> None:
        """Set these budgets (others the key has stay)."""
        for budget in budgets:
            await self._db.execute(
                f"DELETE FROM {self._table} WHERE {self._owner} = ? AND measure = ? AND period = ?",  # noqa: S608  # fixed names
                key_id, budget.measure, budget.period,
            )  # fmt: skip
            await self._db.execute(
                f"INSERT INTO {self._table} ({self._owner}, measure, period, amount, soft) VALUES (?, ?, ?, ?, ?)",  # noqa: S608  # fixed names
                key_id, budget.measure, budget.period, budget.amount, budget.soft,
            )  # fmt: skip

    async def remove(self, key_id: str, names: Sequence[str] = ()) -> None:
        """Remove the named budgets, or all of the key's when none is named."""
        if not names:
            await self._db.execute(f"DELETE FROM {self._table} WHERE {self._owner} = ?", key_id)  # noqa: S608  # fixed names
        for name in names:
            measure, _, period = name.partition("_")
            await self._db.execute(
                f"DELETE FROM {self._table} WHERE {self._owner} = ? AND measure = ? AND period = ?",  # noqa: S608  # fixed names
                key_id, measure, period,
            )  # fmt: skip

    async def replace(self, key_id: str, budgets: Sequence[Budget]) -> None:
        await self.remove(key_id)
        await self.put(key_id, budgets)
