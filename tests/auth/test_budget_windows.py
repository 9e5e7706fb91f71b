"""Budget periods are calendar periods in UTC, and the in-process ledger reserves all or nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from quarry.auth import Budget, Charge, InProcessLedger, parse_budgets, window
from quarry.errors import BudgetExceeded, InvalidRequest


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", "2026-12-04T22:41:00", "2026-12-04", "2026-12-05"),
        ("day", "2026-12-31T23:59:59", "2026-12-31", "2027-01-01"),
        ("week", "2026-12-04T10:00:00", "2026-11-30", "2026-12-07"),  # a Friday: the week began on Monday
        ("week", "2026-11-30T00:00:00", "2026-11-30", "2026-12-07"),
        ("month", "2026-12-04T10:00:00", "2026-12-01", "2027-01-01"),
        ("month", "2028-02-29T12:00:00", "2028-02-01", "2028-03-01"),
    ],
)
def test_windows_are_calendar_periods_in_utc(period: str, now: str, start: str, end: str) -> None:
    assert window(period, at(now)) == (at(start), at(end))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("budget", "text"),
    [
        (Budget("usd", "day", 5), "$5.00 per day"),
        (Budget("usd", "week", 2.5), "$2.50 per week"),
        (Budget("usd", "day", 0.005), "$0.005 per day"),
        (Budget("tokens", "month", 2_000_000), "2000000 tokens per month"),
    ],
)
def test_budgets_describe_themselves(budget: Budget, text: str) -> None:
    assert budget.describe() == text


def test_budget_names_are_checked() -> None:
    assert parse_budgets({"usd_day": 5, "tokens_month": None}) == [Budget("usd", "day", 5.0)]
    with pytest.raises(InvalidRequest, match="usd_year"):
        parse_budgets({"usd_year": 5})
    with pytest.raises(InvalidRequest, match="positive"):
        parse_budgets({"usd_day": 0})
    with pytest.raises(InvalidRequest, match="soft"):
        parse_budgets({"usd_day": 1}, soft=1.5)


async def test_the_in_process_ledger_reserves_all_or_nothing() -> None:
    ledger = InProcessLedger()
    seeded: list[float] = []

    async def seed(key_id: str, since: float) -> tuple[float, int]:
        seeded.append(since)
        await asyncio.sleep(0.01)  # calls racing to load the same window all wait here
        return 0.5, 900

    usd, tokens = Budget("usd", "day", 1.0), Budget("tokens", "month", 1000)
    now = at("2026-12-04T12:00:00")

    def charges(amount_usd: float, amount_tokens: int) -> list[Charge]:
        return [
            Charge(usd, *window("day", now), amount_usd),
            Charge(tokens, *window("month", now), float(amount_tokens)),
        ]

    results = await asyncio.gather(
        *(ledger.reserve("k", f"call-{i}", charges(0.1, 10), seed) for i in range(20)), return_exceptions=True
    )
    admitted = [f"call-{i}" for i, r in enumerate(results) if not isinstance(r, BaseException)]
    assert len(admitted) == 5  # 0.5 USD left at 0.1 each; the token budget has room for 10
    refusals = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, BudgetExceeded) and r.budget == "usd_day" for r in refusals)
    with pytest.raises(BudgetExceeded) as refused:
        await ledger.reserve("k", "big", charges(0.0, 200), seed)  # fits in USD, not in tokens: nothing is reserved
    assert refused.value.budget == "tokens_month"
    state = await ledger.state("k", charges(0, 0), seed)
    assert [round(s.reserved, 6) for s in state] == [0.5, 50]
    await ledger.settle("k", admitted[0], charges(0.1, 10), [0.02, 7])
    state = await ledger.state("k", charges(0, 0), seed)
    assert [round(s.spent, 6) for s in state] == [0.52, 907]
    assert [round(s.reserved, 6) for s in state] == [0.4, 40]
