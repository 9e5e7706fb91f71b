"""Circuit breakers, one per model and region: a model that keeps failing is left alone for a while.

A circuit opens after `failures` consecutive failed calls — a call fails once, after its own retries — that
failed for Bedrock's trouble (throttled, 5xx, timed out: what `is_retryable` or a timeout says; never the
caller's mistake). While open, calls are refused at once with
`CircuitOpen` — a fallback takes over, or the caller hears when to come back — and Bedrock is not asked. Once
`cooldown_s` has passed, one call is let through as a probe (half-open); its success closes the circuit, its
failure opens it for another cool-down. The pattern is Nygard's (Release It!, "Circuit Breaker"); the states are
computed from the clock when read, so a circuit nobody calls still shows half-open once its cool-down is over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from quarry.errors import UpstreamUnavailable

__all__ = ["Breakers", "CircuitOpen", "CircuitState", "CircuitView"]

CircuitState = Literal["closed", "open", "half_open"]


class CircuitOpen(UpstreamUnavailable):
    """A model's circuit is open in this region: refused without asking Bedrock; `retry_after` says when it is
    tried again (a 503, or Anthropic's 529 `overloaded_error`, with `Retry-After`)."""

    def __init__(self, model: str, region: str, retry_after: float) -> None:
        wait = max(1, round(retry_after))
        at = datetime.fromtimestamp(time.time() + retry_after, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(
            f"The model `{model}` is failing in {region}, so Quarry has stopped calling it for now; it tries it "
            f"again at {at} (in {wait} s).",
            code="circuit_open",
        )
        self.model, self.region, self.retry_after = model, region, retry_after
        self.headers["Retry-After"] = str(wait)


@dataclass(frozen=True, slots=True)
class CircuitView:
    """One circuit as the admin API and the metrics show it."""

    model: str
    region: str
    state: CircuitState
    failures: int  # consecutive failures so far
    retry_in_s: float | None  # open: seconds until a probe is let through

    def public(self) -> dict[str, object]:
        return {
            "model": self.model,
            "region": self.region,
            "state": self.state,
            "failures": self.failures,
            "retry_in_s": None if self.retry_in_s is None else round(self.retry_in_s, 3),
        }


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: float | None = None  # None: closed
    probing: bool = False  # a half-open probe is in flight


class Breakers:
    """Every circuit of one runtime client, keyed by (model id as called, region). Owned by the runtime, so it
    lives and dies with the app; nothing is global."""

    def __init__(
        self, *, failures: int = 5, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._circuits: dict[tuple[str, str], _Circuit] = {}

    def _state(self, circuit: _Circuit) -> CircuitState:
        if circuit.opened_at is None:
            return "closed"
        return "half_open" if self._clock() - circuit.opened_at >= self.cooldown_s else "open"

    def admit(self, model: str, region: str) -> bool:
        """Raise CircuitOpen unless a call may go; True when this call is the half-open probe (whose outcome must
        be reported with `succeeded`, `failed` or `abandoned`)."""
        circuit = self._circuits.get((model, region))
        if circuit is None or circuit.opened_at is None:
            return False
        if self._state(circuit) == "half_open" and not circuit.probing:
            circuit.probing = True
            return True
        retry_in = max(0.0, circuit.opened_at + self.cooldown_s - self._clock())
        raise CircuitOpen(model, region, retry_in or self.cooldown_s)

    def is_open(self, model: str, region: str) -> bool:
        """Whether calls are refused now (half-open counts as open for a call that is not the probe)."""
        circuit = self._circuits.get((model, region))
        return circuit is not None and circuit.opened_at is not None

    def succeeded(self, model: str, region: str) -> None:
        circuit = self._circuits.get((model, region))
        if circuit is not None:  # kept, closed: its gauge series reads 0 rather than vanishing
            circuit.failures, circuit.opened_at, circuit.probing = 0, None, False

    def failed(self, model: str, region: str) -> None:
        circuit = self._circuits.setdefault((model, region), _Circuit())
        circuit.failures += 1
        if circuit.probing or circuit.failures >= self.failures:
            circuit.opened_at = self._clock()
        circuit.probing = False

    def abandoned(self, model: str, region: str) -> None:
        """A probe ended with no verdict (the caller left, the caller's own mistake): the next call probes."""
        circuit = self._circuits.get((model, region))
        if circuit is not None:
            circuit.probing = False

    def views(self) -> list[CircuitView]:
        """Every circuit that has seen a failure (bounded: one per model and region called)."""
        now = self._clock()
        found = []
        for (model, region), circuit in sorted(self._circuits.items()):
            state = self._state(circuit)
            retry_in = None
            if circuit.opened_at is not None and state == "open":
                retry_in = max(0.0, circuit.opened_at + self.cooldown_s - now)
            found.append(CircuitView(model, region, state, circuit.failures, retry_in))
        return found
