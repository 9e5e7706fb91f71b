"""The same budget rule as `InProcessLedger`, kept in PostgreSQL so that replicas sharing a database and no Redis
share it. A window is a row of `budget_windows` (what was spent); each call's reservation is a row of
`budget_holds` with a lease. A reservation is one transaction that locks the call's window rows (always in the same
order, so two calls never deadlock), sums the live holds, and inserts its own only if every window has room: a
second call for the same windows waits on the lock and then sees the first one's hold. A hold whose replica died
before settling it stops counting when its lease ends (the database's clock decides, the same for every replica) and
is deleted by the next reservation of its window. Windows are seeded from the usage records, as elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from quarry.auth._ledger import BudgetState, Charge, Seed, exceeded
from quarry.errors import QuarryError, UpstreamUnavailable

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresLedger"]

_Window = tuple[str, str, float]  # holder, budget name, start
log = logging.getLogger("quarry.budgets")
_LEASE_S = 3600.0  # longest a call can hold a reservation if its replica dies (as RedisLedger's)
# Locks the call's windows. The holds are summed by a second statement: under READ COMMITTED a statement sees what
# was committed when it began, so a sum computed in the statement that waited for the lock would miss the holds of
# the call it waited for; the next statement begins after that call committed, and sees them.
_LOCK = """
SELECT w.holder, w.budget, w.start, w.spent
FROM budget_windows w JOIN unnest($1::text[], $2::text[], $3::float8[]) AS want(holder, budget, start)
  USING (holder, budget, start)
ORDER BY w.holder, w.budget, w.start
FOR UPDATE OF w
"""

# Leases are measured on the database's clock, the same for every replica.
_RESERVED = """
SELECT h.holder, h.budget, h.start, SUM(h.amount) AS reserved
FROM budget_holds h JOIN unnest($1::text[], $2::text[], $3::float8[]) AS want(holder, budget, start)
  USING (holder, budget, start)
WHERE h.expires_at > extract(epoch from clock_timestamp())::float8
GROUP BY h.holder, h.budget, h.start
"""


def _windows(key_id: str, charges: Sequence[Charge]) -> tuple[list[str], list[str], list[float]]:
    return [c.holder(key_id) for c in charges], [c.budget.name for c in charges], [c.start for c in charges]


async def _figures(connection: Any, query: str, key_id: str, charges: Sequence[Charge]) -> dict[_Window, Any]:
    """Each window's spent (read, and locked, by `query`) and reserved amounts."""
    windows = _windows(key_id, charges)
    found = {
        (r["holder"], r["budget"], r["start"]): {**r, "reserved": 0.0} for r in await connection.fetch(query, *windows)
    }
    for row in await connection.fetch(_RESERVED, *windows):
        window = (row["holder"], row["budget"], row["start"])
        if window in found:
            found[window]["reserved"] = float(row["reserved"])
    return found


class PostgresLedger:
    def __init__(self, pool: asyncpg.Pool, *, lease_s: float = _LEASE_S) -> None:
        self._pool = pool
        self._lease_s = lease_s

    @classmethod
    async def open(cls, url: str, *, lease_s: float = _LEASE_S) -> PostgresLedger:
        """A ledger on its own small pool: a reservation holds a connection for one short transaction."""
        try:
            import asyncpg
        except ImportError:
            raise RuntimeError("PostgreSQL needs the `postgres` extra: pip install 'quarry[postgres]'") from None
        return cls(await asyncpg.create_pool(url, min_size=1, max_size=8), lease_s=lease_s)

    async def _seed(self, key_id: str, charge: Charge, seed: Seed) -> None:
        holder = charge.holder(key_id)
        usd, tokens = await seed(holder, charge.start)
        spent = usd if charge.budget.measure == "usd" else float(tokens)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO budget_windows (holder, budget, start, spent) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING",
                holder, charge.budget.name, charge.start, spent,
            )  # fmt: skip
            # Ended windows and their holds are of no more use.
            await connection.execute(
                "DELETE FROM budget_holds WHERE holder = $1 AND budget = $2 AND start < $3",
                holder, charge.budget.name, charge.start,
            )  # fmt: skip
            await connection.execute(
                "DELETE FROM budget_windows WHERE holder = $1 AND budget = $2 AND start < $3",
                holder, charge.budget.name, charge.start,
            )  # fmt: skip

    async def _locked(self, connection: Any, key_id: str, charges: Sequence[Charge]) -> dict[_Window, Any]:
        return await _figures(connection, _LOCK, key_id, charges)

    async def reserve(self, key_id: str, hold: str, charges: Sequence[Charge], seed: Seed) -> list[BudgetState]:
        try:
            for _ in range(len(charges) + 1):  # at most one seeding per window
                async with self._pool.acquire() as connection, connection.transaction():
                    rows = await self._locked(connection, key_id, charges)
                    missing = [c for c in charges if (c.holder(key_id), c.budget.name, c.start) not in rows]
                    if not missing:
                        return await self._hold(connection, rows, key_id, hold, charges)
                for charge in missing:  # outside the transaction: the seed reads the usage records
                    await self._seed(key_id, charge, seed)
        except QuarryError:
            raise
        except Exception as exc:  # asyncpg's and the socket's: a budget that cannot be checked is not waved through
            raise UpstreamUnavailable(f"the budget store (PostgreSQL) cannot be reached: {exc}") from None
        raise UpstreamUnavailable("the budget store (PostgreSQL) keeps losing the key's budget windows")

    async def _hold(
        self, connection: Any, rows: dict[_Window, Any], key_id: str, hold: str, charges: Sequence[Charge]
    ) -> list[BudgetState]:
        # Every window is locked by this transaction: what is read here cannot change before it commits.
        states = []
        for charge in charges:
            row = rows[(charge.holder(key_id), charge.budget.name, charge.start)]
            spent, reserved = float(row["spent"]), float(row["reserved"])
            if spent + reserved + charge.amount > charge.budget.amount:
                raise exceeded(charge, spent, reserved)  # rolls the transaction back: nothing was held
            states.append(BudgetState(charge.budget, charge.start, charge.resets, spent, reserved + charge.amount))
        await connection.executemany(
            "INSERT INTO budget_holds (hold, holder, budget, start, amount, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, extract(epoch from clock_timestamp())::float8 + $6::float8)",
            [(hold, c.holder(key_id), c.budget.name, c.start, c.amount, self._lease_s) for c in charges],
        )
        # A hold whose lease ended no longer counts; it is deleted here, under the windows' locks.
        await connection.execute(
            "DELETE FROM budget_holds h USING unnest($1::text[], $2::text[], $3::float8[]) AS w(holder, budget, start)"
            " WHERE h.holder = w.holder AND h.budget = w.budget AND h.start = w.start"
            " AND h.expires_at <= extract(epoch from clock_timestamp())::float8",
            *_windows(key_id, charges),
        )
        return states

    async def settle(self, key_id: str, hold: str, charges: Sequence[Charge], actual: Sequence[float]) -> None:
        # The spent figure is added whether or not the hold is still there (its lease may have ended): what a call
        # used is counted once, as RedisLedger counts it.
        ordered = sorted(zip(charges, actual, strict=True), key=lambda p: (p[0].holder(key_id), p[0].budget.name))
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                for charge, used in ordered:
                    deleted = await connection.execute(
                        "DELETE FROM budget_holds WHERE hold = $1 AND holder = $2 AND budget = $3 AND start = $4",
                        hold, charge.holder(key_id), charge.budget.name, charge.start,
                    )  # fmt: skip
                    if deleted == "DELETE 0" and used == 0:
                        continue  # settled already, or its lease ended with nothing used
                    await connection.execute(
                        "UPDATE budget_windows SET spent = spent + $4 WHERE holder = $1 AND budget = $2 AND start = $3",
                        charge.holder(key_id), charge.budget.name, charge.start, used,
                    )  # fmt: skip
        except Exception:  # the call is over; its lease releases the reservation (stricter meanwhile, never looser)
            log.warning("settling a budget reservation in PostgreSQL failed", exc_info=True)

    async def state(self, key_id: str, charges: Sequence[Charge], seed: Seed) -> list[BudgetState]:
        for charge in charges:
            await self._seed(key_id, charge, seed)  # a no-op for a window the table holds already
        found = await _figures(self._pool, _LOCK.replace("FOR UPDATE OF w", ""), key_id, charges)
        states = []
        for charge in charges:
            row = found.get((charge.holder(key_id), charge.budget.name, charge.start))
            spent, reserved = (float(row["spent"]), float(row["reserved"])) if row is not None else (0.0, 0.0)
            states.append(BudgetState(charge.budget, charge.start, charge.resets, spent, reserved))
        return states

    async def aclose(self) -> None:
        await self._pool.close()
