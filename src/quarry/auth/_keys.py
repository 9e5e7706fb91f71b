"""Team API keys: created with their scopes and limits, stored as SHA-256 hashes (the keys are 190-bit random
strings, so a fast hash is the right one), shown once, revoked by id."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, replace

import orjson

from quarry.errors import InvalidRequest, NotFound
from quarry.store import Database, Row

__all__ = ["MAX_LIMIT", "ApiKey", "KeyStore", "Limits", "check_team", "hash_key"]

_PREFIX = "qk-"
# The largest limit a key may have: PostgreSQL's INTEGER columns hold no more (and nobody needs 2 billion rpm).
MAX_LIMIT = 2**31 - 1
MAX_FALLBACKS = 8

# Team names travel in URLs (/admin/teams/NAME), headers and log lines: kept to plain characters.
_TEAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_team(team: str) -> str:
    """A team's name as given, or InvalidRequest saying what a name may be."""
    if not _TEAM_NAME.fullmatch(team):
        raise InvalidRequest(
            "A team's name is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit.",
            param="team",
        )
    return team


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-key limits; None is unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.rpm, self.tpm, self.max_concurrency))


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    prefix: str  # the first characters of the key, to recognise it in lists
    models: tuple[str, ...]  # glob patterns; empty = every model
    limits: Limits
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None
    fallbacks: tuple[str, ...] = ()  # models tried in order when the one asked for cannot answer
    team: str | None = None  # the team whose budgets the key's calls also count against

    def allows(self, *names: str) -> bool:
        """Whether the key may call a model known by any of these names (requested name, Bedrock id)."""
        return not self.models or any(fnmatch.fnmatchcase(n, p) for p in self.models for n in names if n)

    def usable(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def public(self) -> dict[str, object]:
        """What lists and the admin API show: everything but the hash."""
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "models": list(self.models),
            "rpm": self.limits.rpm,
            "tpm": self.limits.tpm,
            "max_concurrency": self.limits.max_concurrency,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
            "fallbacks": list(self.fallbacks),
            "team": self.team,
        }


def _fallbacks(names: tuple[str, ...]) -> tuple[str, ...]:
    chain = tuple(name.strip() for name in names if name.strip())
    if len(chain) > MAX_FALLBACKS:
        raise InvalidRequest(f"A key has at most {MAX_FALLBACKS} fallbacks.", param="fallbacks")
    return chain


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _key(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        models=tuple(orjson.loads(row["models"])),
        limits=Limits(row["rpm"], row["tpm"], row["max_concurrency"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        fallbacks=tuple(orjson.loads(row["fallbacks"] or "[]")),
        team=row.get("team"),
    )


class KeyStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        name: str,
        *,
        models: tuple[str, ...] = (),
        limits: Limits = Limits(),
        expires_at: float | None = None,
        fallbacks: tuple[str, ...] = (),
        team: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret, which is not stored and cannot be shown again."""
        if not name.strip():
            raise InvalidRequest("A key needs a name.", param="name")
        for field, value in (("rpm", limits.rpm), ("tpm", limits.tpm), ("max_concurrency", limits.max_concurrency)):
            if value is not None and not 1 <= value <= MAX_LIMIT:
                raise InvalidRequest(f"{field} must be from 1 to {MAX_LIMIT} (leave it out for no limit).", param=field)
        if expires_at is not None and expires_at <= time.time():
            raise InvalidRequest("expires must be in the future.", param="expires")
        if team is not None:
            check_team(team)
        secret = _PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id="key_" + secrets.token_hex(8),
            name=name.strip(),
            prefix=secret[:10],
            models=models,
            limits=limits,
            created_at=time.time(),
            expires_at=expires_at,
            fallbacks=_fallbacks(fallbacks),
            team=team,
        )
        await self._db.execute(
            "INSERT INTO api_keys (id, name, prefix, hash, models, rpm, tpm, max_concurrency, expires_at, created_at,"
            " fallbacks, team) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            key.id, key.name, key.prefix, hash_key(secret), orjson.dumps(list(models)).decode(),
            limits.rpm, limits.tpm, limits.max_concurrency, expires_at, key.created_at,
            orjson.dumps(list(key.fallbacks)).decode(), team,
        )  # fmt: skip
        return key, secret

    async def set_fallbacks(self, key_id: str, fallbacks: tuple[str, ...]) -> ApiKey:
        """Replace a key's fallback chain (empty: none; the server's `models.fallbacks` apply again)."""
        chain = _fallbacks(fallbacks)
        row = await self._db.fetchrow("SELECT * FROM api_keys WHERE id = ?", key_id)
        if row is None:
            raise NotFound(f"No API key with id `{key_id}`.", param="id")
        await self._db.execute(
            "UPDATE api_keys SET fallbacks = ? WHERE id = ?", orjson.dumps(list(chain)).decode(), key_id
        )
        return replace(_key(row), fallbacks=chain)

    async def find(self, secret: str) -> ApiKey | None:
        """The key with this secret, revoked and expired ones included (the caller decides)."""
        row = await self._db.fetchrow("SELECT * FROM api_keys WHERE hash = ?", hash_key(secret))
        return _key(row) if row is not None else None

    async def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        return [_key(row) for row in await self._db.fetch(f"SELECT * FROM api_keys{where} ORDER BY created_at")]  # noqa: S608  # a fixed clause

    async def any_active(self) -> bool:
        return await self._db.fetchrow("SELECT 1 AS found FROM api_keys WHERE revoked_at IS NULL LIMIT 1") is not None

    async def revoke(self, key_id: str) -> ApiKey:
        row = await self._db.fetchrow("SELECT * FROM api_keys WHERE id = ?", key_id)
        if row is None:
            raise NotFound(f"No API key with id `{key_id}`.", param="id")
        if row["revoked_at"] is None:
            row["revoked_at"] = time.time()
            await self._db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", row["revoked_at"], key_id)
        return _key(row)

    async def set_team(self, key_id: str, team: str | None) -> ApiKey:
        """Put a key in a team (None: in none). Its calls count against the team's budgets from then on, and the
        team's spending is summed from its keys' usage: a key's past calls move with it."""
        if team is not None:
            check_team(team)
        if not await self._db.execute("UPDATE api_keys SET team = ? WHERE id = ?", team, key_id):
            raise NotFound(f"No API key with id `{key_id}`.", param="id")
        row = await self._db.fetchrow("SELECT * FROM api_keys WHERE id = ?", key_id)
        assert row is not None  # just updated
        return _key(row)

    async def teams(self) -> dict[str, int]:
        """Every team that has keys, and how many of them are not revoked."""
        rows = await self._db.fetch(
            "SELECT team, SUM(CASE WHEN revoked_at IS NULL THEN 1 ELSE 0 END) AS active FROM api_keys"
            " WHERE team IS NOT NULL GROUP BY team ORDER BY team"
        )
        return {row["team"]: int(row["active"]) for row in rows}

    async def touch(self, last_used: dict[str, float]) -> None:
        """Record when keys were last used (batched by the usage writer, off the request path)."""
        rows = [(at, key_id) for key_id, at in last_used.items()]
        if rows:
            await self._db.executemany("UPDATE api_keys SET last_used_at = ? WHERE id = ?", rows)
