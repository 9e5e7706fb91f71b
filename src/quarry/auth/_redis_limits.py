"""The same limits as `InProcessLimiter`, kept in Redis so that every instance shares them. Each decision is one
Lua script, so it is atomic however many instances ask at once, and uses Redis's clock, so instances' clocks
do not matter. A concurrency slot is a member of a sorted set that expires after a lease, so a crashed instance
cannot hold slots for ever (the `redis` extra)."""

from __future__ import annotations

import logging
from typing import Any

from quarry.auth._keys import Limits
from quarry.auth._limits import Grant, refused
from quarry.errors import UpstreamUnavailable

__all__ = ["RedisLimiter"]

log = logging.getLogger("quarry.limits")
_LEASE_S = 3600  # longest a request can hold a concurrency slot if its instance dies

_BUCKET = """
local function bucket(key, cap, now)
  if cap <= 0 then return nil end
  local v = redis.call('HMGET', key, 'level', 'at', 'cap')
  local level, at = tonumber(v[1]), tonumber(v[2])
  if level == nil or tonumber(v[3]) ~= cap then level, at = cap, now end
  return math.min(cap, level + (now - at) * cap / 60)
end
local function save(key, cap, level, now)
  if cap > 0 then
    redis.call('HSET', key, 'level', tostring(level), 'at', tostring(now), 'cap', cap)
    redis.call('EXPIRE', key, 120)
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

_ACQUIRE = (
    _BUCKET
    + """
local rpm, tpm, maxc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost, grant, lease = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
if tpm > 0 and cost > tpm then cost = tpm end
local req, tok = bucket(KEYS[1], rpm, now), bucket(KEYS[2], tpm, now)
local status, retry = 0, 0
if req ~= nil and req < 1 then
  status, retry = 1, (1 - req) * 60 / rpm
elseif tok ~= nil and tok < cost then
  status, retry = 2, (cost - tok) * 60 / tpm
elseif maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= maxc then status, retry = 3, 1 end
end
if status == 0 then
  if req ~= nil then req = req - 1 end
  if tok ~= nil then tok = tok - cost end
  if maxc > 0 then
    redis.call('ZADD', KEYS[3], now + lease, grant)
    redis.call('EXPIRE', KEYS[3], lease)
  end
end
save(KEYS[1], rpm, req or 0, now)
save(KEYS[2], tpm, tok or 0, now)
return {status, tostring(retry), tostring(req or 0), tostring(tok or 0), cost}
"""
)

_RELEASE = (
    _BUCKET
    + """
local tpm, refund, grant = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
redis.call('ZREM', KEYS[2], grant)
if tpm > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  save(KEYS[1], tpm, math.min(tpm, bucket(KEYS[1], tpm, now) + refund), now)
end
return 0
"""
)

_WHAT = {1: "{rpm} requests per minute", 2: "{tpm} tokens per minute", 3: "{max_concurrency} requests at a time"}


class RedisLimiter:
    def __init__(self, client: Any) -> None:
        self._redis = client
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str) -> RedisLimiter:
        try:
            import redis.asyncio
        except ImportError:
            raise RuntimeError("Shared rate limits need the `redis` extra: pip install 'quarry[redis]'") from None
        return cls(redis.asyncio.Redis.from_url(url))

    @staticmethod
    def _keys(key_id: str) -> list[str]:
        base = f"quarry:limits:{{{key_id}}}"  # one hash slot per key, for Redis Cluster
        return [f"{base}:requests", f"{base}:tokens", f"{base}:active"]

    async def acquire(self, key_id: str, limits: Limits, tokens: int) -> Grant:
        requests, budget, active = self._keys(key_id)
        args = [limits.rpm or 0, limits.tpm or 0, limits.max_concurrency or 0, tokens]
        grant = Grant(key_id, limits, tokens)
        try:
            status, retry, left_requests, left_tokens, cost = await self._acquire(
                keys=[requests, budget, active], args=[*args, grant.grant_id, _LEASE_S]
            )
        except Exception as exc:  # redis's errors; a limit that cannot be checked is not waved through
            raise UpstreamUnavailable(f"the rate-limit store (Redis) cannot be reached: {exc}") from None
        grant.tokens = int(cost)
        grant.remaining_requests, grant.remaining_tokens = int(float(left_requests)), int(float(left_tokens))
        if limits.rpm:
            grant.reset_requests_s = (limits.rpm - float(left_requests)) * 60 / limits.rpm
        if limits.tpm:
            grant.reset_tokens_s = max(0.0, (limits.tpm - float(left_tokens)) * 60 / limits.tpm)
        if int(status):
            what = _WHAT[int(status)].format(rpm=limits.rpm, tpm=limits.tpm, max_concurrency=limits.max_concurrency)
            raise refused(grant, what, float(retry))
        return grant

    async def release(self, grant: Grant, used_tokens: int) -> None:
        _, budget, active = self._keys(grant.key_id)
        refund = grant.tokens - used_tokens
        try:
            await self._release(keys=[budget, active], args=[grant.limits.tpm or 0, refund, grant.grant_id])
        except Exception:  # the slot's lease ends it anyway; the request itself is over
            log.warning("releasing a rate-limit grant in Redis failed", exc_info=True)

    async def aclose(self) -> None:
        await self._redis.aclose()
