"""The Redis ledger against a real Redis: all-or-nothing reservations, seeding from the usage records once, and
reservations released by their lease when their instance never settles them."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio

from quarry.auth import Budget, Charge, RedisLedger, window
from quarry.errors import BudgetExceeded


async def test_reservations_seeding_and_leases(redis_url: str) -> None:
    ledger = RedisLedger(redis.asyncio.Redis.from_url(redis_url), lease_s=0.5)
    seeds: list[float] = []

    async def seed(key_id: str, since: float) -> tuple[float, int]:
        seeds.append(since)
        return 0.5, 900

    key = f"key_lease_{time.time_ns()}"
    usd, tokens = Budget("usd", "day", 1.0), Budget("tokens", "month", 1000)

    def charges(amount_usd: float, amount_tokens: int) -> list[Charge]:
        now = time.time()
        return [Charge(usd, *window("day", now), amount_usd), Charge(tokens, *window("month", now), amount_tokens)]

    try:
        results = await asyncio.gather(
            *(ledger.reserve(key, f"call-{i}", charges(0.1, 10), seed) for i in range(20)), return_exceptions=True
        )
        admitted = [f"call-{i}" for i, r in enumerate(results) if not isinstance(r, BaseException)]
        assert len(admitted) == 5
        # Calls racing at a window's start may each read the usage records; the first figure stays (HSETNX).
        assert len(set(seeds)) == 2
        with pytest.raises(BudgetExceeded) as refused:
            await ledger.reserve(key, "big", charges(0.0, 200), seed)
        assert refused.value.budget == "tokens_month"
        await ledger.settle(key, admitted[0], charges(0.1, 10), [0.02, 7])
        await ledger.settle(key, admitted[0], charges(0.1, 10), [0.0, 0])  # settled twice: released once
        state = await ledger.state(key, charges(0, 0), seed)
        assert [round(s.spent, 6) for s in state] == [0.52, 907]
        assert [round(s.reserved, 6) for s in state] == [0.4, 40]
        await asyncio.sleep(0.6)  # the four unsettled calls' instance "died": their leases end
        assert await ledger.reserve(key, "after", charges(0.4, 10), seed)
        state = await ledger.state(key, charges(0, 0), seed)
        assert [round(s.reserved, 6) for s in state] == [0.4, 10]
    finally:
        await ledger.aclose()


async def test_a_teams_window_is_shared_by_its_keys(redis_url: str) -> None:
    ledger = RedisLedger(redis.asyncio.Redis.from_url(redis_url))
    holders: list[str] = []

    async def seed(holder: str, since: float) -> tuple[float, int]:
        holders.append(holder)
        return 0.0, 0

    team, a, b = f"team:t{time.time_ns()}", f"key_a{time.time_ns()}", f"key_b{time.time_ns()}"
    own, shared = Budget("usd", "day", 1.0), Budget("usd", "day", 0.3)

    def charges(amount: float) -> list[Charge]:
        now = time.time()
        return [Charge(own, *window("day", now), amount), Charge(shared, *window("day", now), amount, team)]

    try:
        assert await ledger.reserve(a, "a", charges(0.2), seed)
        with pytest.raises(BudgetExceeded) as refused:  # key_b's own budget has room; the team's has not
            await ledger.reserve(b, "b", charges(0.2), seed)
        assert refused.value.budget == f"{team}/usd_day"
        await ledger.settle(a, "a", charges(0.2), [0.05, 0.05])
        assert await ledger.reserve(b, "b", charges(0.2), seed)
        state = await ledger.state(b, charges(0), seed)
        assert [round(s.spent, 6) for s in state] == [0.0, 0.05]
        assert [round(s.reserved, 6) for s in state] == [0.2, 0.2]
        assert set(holders) == {a, b, team}
    finally:
        await ledger.aclose()
