"""The same budget rule as `InProcessLedger`, kept in Redis so that every instance shares it: each reservation and
each settlement is one Lua script over the key's budget windows (one hash each: spent, reserved), so it is atomic
however many instances ask at once. A window Redis does not hold yet is seeded from the usage records first (the
`redis` extra).

A reservation lives in its window until its call settles; an instance that dies mid-call leaves its reservations
until the window ends (they only make the budget stricter)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from quarry.auth._ledger import BudgetState, Charge, Seed, exceeded
from quarry.errors import UpstreamUnavailable

__all__ = ["RedisLedger"]

log = logging.getLogger("quarry.budgets")
_KEEP_S = 86400  # how long a window's figures outlive its end

# KEYS: the windows; ARGV: a limit and an amount per window. {-1, i}: window i is not in Redis yet (seed it);
# {1, i, spent, reserved}: window i has no room; {0, spent1, reserved1, …}: reserved in every window.
_RESERVE = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then return {-1, i} end
end
local states = {0}
for i = 1, #KEYS do
  local limit, amount = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local v = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  local spent, reserved = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if spent + reserved + amount > limit then return {1, i, tostring(spent), tostring(reserved)} end
  states[#states + 1] = tostring(spent)
  states[#states + 1] = tostring(reserved + amount)
end
for i = 1, #KEYS do redis.call('HINCRBYFLOAT', KEYS[i], 'reserved', ARGV[2 * i]) end
return states
"""

# KEYS[1]: a window; ARGV: what the usage records say was spent, and when the window's figures may go.
_SEED = """
redis.call('HSETNX', KEYS[1], 'spent', ARGV[1])
redis.call('HSETNX', KEYS[1], 'reserved', '0')
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return 0
"""

# KEYS: the windows; ARGV: the reserved amount and the amount used, per window.
_SETTLE = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HINCRBYFLOAT', KEYS[i], 'reserved', -tonumber(ARGV[2 * i - 1]))
    redis.call('HINCRBYFLOAT', KEYS[i], 'spent', ARGV[2 * i])
  end
end
return 0
"""


def _name(key_id: str, charge: Charge) -> str:
    # One hash slot per key, for Redis Cluster.
    return f"quarry:budgets:{{{key_id}}}:{charge.budget.name}:{int(charge.start)}"


class RedisLedger:
    def __init__(self, client: Any) -> None:
        self._redis = client
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
        usd, tokens = await seed(key_id, charge.start)
        spent = usd if charge.budget.measure == "usd" else float(tokens)
        await self._seed(keys=[_name(key_id, charge)], args=[repr(spent), int(charge.resets) + _KEEP_S])

    async def reserve(self, key_id: str, charges: Sequence[Charge], seed: Seed) -> list[BudgetState]:
        keys = [_name(key_id, c) for c in charges]
        args = [value for c in charges for value in (repr(c.budget.amount), repr(c.amount))]
        for _ in range(len(charges) + 1):  # at most one seeding per window
            try:
                answer = await self._reserve(keys=keys, args=args)
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

    async def settle(self, key_id: str, charges: Sequence[Charge], actual: Sequence[float]) -> None:
        args = [value for c, used in zip(charges, actual, strict=True) for value in (repr(c.amount), repr(used))]
        try:
            await self._settle(keys=[_name(key_id, c) for c in charges], args=args)
        except Exception:  # the call is over; its reservation stays until the window ends (stricter, never looser)
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
