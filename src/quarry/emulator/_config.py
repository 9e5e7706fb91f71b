"""The emulator's own knobs, so that it imports nothing from the gateway (not even `quarry.settings`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["EmulatorConfig", "EmulatorOptions"]


class EmulatorOptions(Protocol):
    """What an `EmulatorApp` reads of its configuration; `quarry.settings.EmulatorSettings` has these too, so the
    gateway passes its settings as they are."""

    @property
    def first_byte_ms(self) -> float: ...

    @property
    def tokens_per_second(self) -> float: ...

    @property
    def fault_rate(self) -> float: ...

    @property
    def seed(self) -> int: ...

    @property
    def guardrails(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def service_tiers(self) -> Mapping[str, Sequence[str]]: ...


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Pacing and faults: the delay before every answer's first byte, the streaming pace (0: as fast as possible),
    the share of requests (0..1) answered with a random fault, and the seed of the fault dice; the guardrails
    it knows (`[[emulator.guardrails]]` tables, read by `parse_guardrails`); and the service tiers models offer
    besides `default` (foundation-model id → tiers; a model not named offers priority and flex)."""

    first_byte_ms: float = 0.0
    tokens_per_second: float = 0.0
    fault_rate: float = 0.0
    seed: int = 0
    guardrails: tuple[Mapping[str, Any], ...] = ()
    service_tiers: Mapping[str, Sequence[str]] = field(default_factory=dict)
