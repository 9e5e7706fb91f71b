"""The same budget rule as `InProcessLedger`, kept in Redis so that every instance shares it: each reservation and
each settlement is one Lua script over the key's budget windows, so it is atomic however many instances ask at
once, and uses Redis's clock. A window is a hash (spent, reserved, and each call's reserved amount) and a sorted
set of the calls holding reservations, scored by when their lease ends: a call its instance never settled (the
instance died) is released when the lease is over, by the next reservation. A window Redis does not hold yet is
seeded from the usage records first (the `redis` extra)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from quarry.auth._ledger import BudgetState, Charge, Seed, exceeded
from quarry.errors import UpstreamUnavailable

__all__ = ["RedisLedger"]

log = logging.getLogger("quarry.budgets")
_KEEP_S = 86400  # how long a window's figures outlive its end
_LEASE_S = 3600  # longest a call can hold a reservation if its instance dies

# KEYS: per window, its hash and its set of holds; ARGV: the hold, its lease, then per window its limit, amount and
# expiry. {-1, i}: window i is not in Redis yet (seed it); {1, i, spent, reserved}: window i has no room;
# {0, spent1, reserved1, …}: reserved in every window.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = #KEYS / 2
for i = 1, n do
  if redis.call('EXISTS', KEYS[2 * i - 1]) == 0 then return {-1, i} end
end
local hold, lease = ARGV[1], tonumber(ARGV[2])
for i = 1, n do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  for _, stale in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', now)) do
    local amount = redis.call('HGET', h, 'r:' .. stale)
    if amount then
      redis.call('HINCRBYFLOAT', h, 'reserved', -tonumber(amount))
      redis.call('HDEL', h, 'r:' .. stale)
    end
    redis.call('ZREM', z, stale)
  end
end
local states = {0}
for i = 1, n do
  local limit, amount = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  local v = redis.call('HMGET', KEYS[2 * i - 1], 'spent', 'reserved')
  local spent, reserved = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if spent + reserved + amount > limit then return {1, i, tostring(spent), tostring(reserved)} end
  states[#states + 1] = tostring(spent)
  states[#states + 1] = tostring(reserved + amount)
end
for i = 1, n do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('HINCRBYFLOAT', h, 'reserved', ARGV[3 * i + 1])
  redis.call('HSET', h, 'r:' .. hold, ARGV[3 * i + 1])
  redis.call('ZADD', z, now + lease, hold)
  redis.call('EXPIREAT', z, ARGV[3 * i + 2])
end
return states
"""

# KEYS[1]: a window's hash; ARGV: what the usage records say was spent, and when the window's figures may go.
_SEED = """
redis.call('HSETNX', KEYS[1], 'spent', ARGV[1])
redis.call('HSETNX', KEYS[1], 'reserved', '0')
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return 0
"""

# KEYS: per window, its hash and its set of holds; ARGV: the hold, then the amount used per window. A hold already
# released by its lease is not released twice; what it used is counted all the same.
_SETTLE = """
local hold = ARGV[1]
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  if redis.call('EXISTS', h) == 1 then
    if redis.call('ZREM', z, hold) == 1 then
      local amount = redis.call('HGET', h, 'r:' .. hold)
      if amount then redis.call('HINCRBYFLOAT', h, 'reserved', -tonumber(amount)) end
    end
    redis.call('HDEL', h, 'r:' .. hold)
    redis.call('HINCRBYFLOAT', h, 'spent', ARGV[i + 1])
  end
end
return 0
"""


def _name(key_id: str, charge: Charge) -> str:
    # One hash slot per key or team, for Redis Cluster (a key's call that also charges its team's budgets touches
    # two slots: on Redis Cluster team budgets need the key and team on one node).
    return f"quarry:budgets:{{{charge.holder(key_id)}}}:{charge.budget.name}:{int(charge.start)}"


def _keys(key_id: str, charges: Sequence[Charge]) -> list[str]:
    return [name for c in charges for name in (_name(key_id, c), _name(key_id, c) + ":holds")]


class RedisLedger:
    def __init__(self, client: Any, *, lease_s: float = _LEASE_S) -> None:
        self._redis = client
        self._lease_s = lease_s
        self._reserve = client.register_script(_RESERVE)
        self._seed = client.register_script(_SEED)
        self._settle = client.register_script(_SETTLE)

    @classmethod
    def from_url(cls, url: str) -> RedisLedger:
        try:
            import redis.asyncio
        except ImportError:
            raise RuntimeError("Shared budgets need the `redis` extra: pip install 'quarry[redis]'") from None
        return cls(redis.asyncio.Redis.from_url(url))

    async def _seed_window(self, key_id: str, charge: Charge, seed: Seed) -> None:
        usd, tokens = await seed(charge.holder(key_id), charge.start)
        spent = usd if charge.budget.measure == "usd" else float(tokens)
        await self._seed(keys=[_name(key_id, charge)], args=[repr(spent), int(charge.resets) + _KEEP_S])

    async def reserve(self, key_id: str, hold: str, charges: Sequence[Charge], seed: Seed) -> list[BudgetState]:
        windows = [value for c in charges for value in (repr(c.budget.amount), repr(c.amount), int(c.resets) + _KEEP_S)]
        args = [hold, repr(self._lease_s), *windows]
        for _ in range(len(charges) + 1):  # at most one seeding per window
            try:
                answer = await self._reserve(keys=_keys(key_id, charges), args=args)
                status = int(answer[0])
                if status == -1:
                    await self._seed_window(key_id, charges[int(answer[1]) - 1], seed)
                    continue
            except Exception as exc:  # redis's errors; a budget that cannot be checked is not waved through
                raise UpstreamUnavailable(f"the budget store (Redis) cannot be reached: {exc}") from None
            if status == 1:
                raise exceeded(charges[int(answer[1]) - 1], float(answer[2]), float(answer[3]))
            figures = [float(value) for value in answer[1:]]
            return [
                BudgetState(c.budget, c.start, c.resets, figures[2 * i], figures[2 * i + 1])
                for i, c in enumerate(charges)
            ]
        raise UpstreamUnavailable("the budget store (Redis) keeps losing the key's budget windows")

    async def settle(self, key_id: str, hold: str, charges: Sequence[Charge], actual: Sequence[float]) -> None:
        try:
            await self._settle(keys=_keys(key_id, charges), args=[hold, *(repr(used) for used in actual)])
        except Exception:  # the call is over; its lease releases its reservation (stricter meanwhile, never looser)
            log.warning("settling a budget reservation in Redis failed", exc_info=True)

    async def state(self, key_id: str, charges: Sequence[Charge], seed: Seed) -> list[BudgetState]:
        states = []
        try:
            for charge in charges:
                name = _name(key_id, charge)
                if not await self._redis.exists(name):
                    await self._seed_window(key_id, charge, seed)
                spent, reserved = await self._redis.hmget(name, "spent", "reserved")
                states.append(
                    BudgetState(charge.budget, charge.start, charge.resets, float(spent or 0), float(reserved or 0))
                )
        except Exception as exc:
            raise UpstreamUnavailable(f"the budget store (Redis) cannot be reached: {exc}") from None
        return states

    async def aclose(self) -> None:
        await self._redis.aclose()
