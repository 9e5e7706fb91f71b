"""The PostgreSQL ledger against a real PostgreSQL: all-or-nothing reservations across a key's and its team's
windows, seeding from the usage records, settling once, and reservations released by their lease when their replica
never settles them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from quarry.auth import Budget, Charge, PostgresLedger, window
from quarry.errors import BudgetExceeded
from quarry.store import open_database


async def test_reservations_seeding_and_leases(postgres_url: str, tmp_path: Path) -> None:
    database = await open_database(postgres_url, tmp_path)  # the ledger's tables are the store's migrations'
    await database.close()
    ledger = await PostgresLedger.open(postgres_url, lease_s=0.5)
    seeds: list[tuple[str, float]] = []

    async def seed(holder: str, since: float) -> tuple[float, int]:
        seeds.append((holder, since))
        return (0.5, 900) if holder.startswith("key_") else (1.0, 0)

    key, team = f"key_lease_{time.time_ns()}", f"team:t{time.time_ns()}"
    usd, tokens, team_usd = Budget("usd", "day", 1.0), Budget("tokens", "month", 1000), Budget("usd", "week", 1.8)

    def charges(amount_usd: float, amount_tokens: int) -> list[Charge]:
        now = time.time()
        return [
            Charge(usd, *window("day", now), amount_usd),
            Charge(tokens, *window("month", now), amount_tokens),
            Charge(team_usd, *window("week", now), amount_usd, team),
        ]

    try:
        results = await asyncio.gather(
            *(ledger.reserve(key, f"call-{i}", charges(0.1, 10), seed) for i in range(20)), return_exceptions=True
        )
        admitted = [f"call-{i}" for i, r in enumerate(results) if not isinstance(r, BaseException)]
        refusals = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(r, BudgetExceeded) for r in refusals)
        assert len(admitted) == 5  # the key's $0.50 left admits five; the team's $0.80 would admit eight
        assert {holder for holder, _ in seeds} == {key, team}
        with pytest.raises(BudgetExceeded) as refused:
            await ledger.reserve(key, "big", charges(0.0, 200), seed)
        assert refused.value.budget == "tokens_month"
        await ledger.settle(key, admitted[0], charges(0.1, 10), [0.02, 7, 0.02])
        await ledger.settle(key, admitted[0], charges(0.1, 10), [0.0, 0, 0.0])  # settled twice: released once
        state = await ledger.state(key, charges(0, 0), seed)
        assert [round(s.spent, 6) for s in state] == [0.52, 907, 1.02]
        assert [round(s.reserved, 6) for s in state] == [0.4, 40, 0.4]

        # Another key of the same team draws on the team's window, not on the first key's.
        other = [Charge(team_usd, *window("week", time.time()), 0.5, team)]
        with pytest.raises(BudgetExceeded) as refused:
            await ledger.reserve("key_other", "other", other, seed)
        assert refused.value.budget == f"{team}/usd_week"
        assert "of this API key's team" in str(refused.value)

        await asyncio.sleep(0.6)  # the four unsettled calls' replica "died": their leases end
        assert await ledger.reserve(key, "after", charges(0.4, 10), seed)
        state = await ledger.state(key, charges(0, 0), seed)
        assert [round(s.reserved, 6) for s in state] == [0.4, 10, 0.4]
    finally:
        await ledger.aclose()
