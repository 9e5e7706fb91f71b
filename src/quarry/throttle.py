"""Throttling sign-ins: after a number of failures a key (a user name, a client address) is locked out for a while,
doubling with each further failure; a locked-out attempt is refused before any secret is checked. Shared by the
toolbox's password sign-in and the operator's console, so it sits at the bottom of the layers and imports nothing."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["Throttle", "ThrottleKey"]

_LONGEST_LOCKOUT_S = 3600.0
ThrottleKey = tuple[str, str, int]  # (kind, value, failures allowed)


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class Throttle:
    """Failures per key (a user name, an address), in a table of at most `max_keys` (least recently used go)."""

    def __init__(self, *, lockout_s: float, forget_after_s: float = 900.0, max_keys: int = 10_000) -> None:
        self.lockout_s = lockout_s
        self.forget_after_s = forget_after_s
        self.max_keys = max_keys
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()

    def _record(self, kind: str, value: str, now: float) -> _Record:
        record = self._records.get((kind, value))
        if record is None or now - record.last > max(self.forget_after_s, record.locked_until - record.last):
            record = self._records[(kind, value)] = _Record()
        self._records.move_to_end((kind, value))
        while len(self._records) > self.max_keys:
            self._records.popitem(last=False)
        return record

    def begin(self, keys: list[ThrottleKey], now: float | None = None) -> tuple[str, float] | None:
        """Start an attempt: None, counted as a failure until `succeeded`; or (kind, seconds to wait) if locked out.

        Counting it before the password is checked means a burst of concurrent attempts is throttled too.
        """
        now = time.monotonic() if now is None else now
        records = [(self._record(kind, value, now), allowed, kind) for kind, value, allowed in keys]
        for record, allowed, kind in records:
            if record.failures >= allowed and now < record.locked_until:
                return kind, record.locked_until - now
        for record, allowed, _ in records:
            record.failures += 1
            record.last = now
            if record.failures >= allowed:
                lockout = min(self.lockout_s * 2 ** min(record.failures - allowed, 30), _LONGEST_LOCKOUT_S)
                record.locked_until = max(record.locked_until, now + lockout)
        return None

    def succeeded(self, keys: list[ThrottleKey]) -> None:
        """The attempt begun with `keys` signed in: the user's failures are forgiven, the address's is taken back."""
        for kind, value, allowed in keys:
            record = self._records.get((kind, value))
            if record is None:
                continue
            record.failures = 0 if kind == "user" else max(record.failures - 1, 0)
            if record.failures < allowed:
                record.locked_until = 0.0
