"""The price table: USD per million tokens per base model id, shipped as `prices.json` and merged with an operator's
file; a request's cost from the tokens it used, and its maximum cost before it is made (what budgets reserve).

Prices depend on the profile the call went through: `global.` profiles are charged the list price, geographic
profiles (`us.`, `eu.`, …) and in-region ids the list price times the table's regional multiplier, for the models
whose entry says so (Bedrock's 10% premium on the newest Claude models). Nothing is fetched over the network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from quarry.exchange import TokenCounts

__all__ = ["ModelPrice", "Price", "PriceTable", "base_model_id"]

_MILLION = 1_000_000
_GEOGRAPHIC = ("us-gov.", "us.", "eu.", "apac.", "jp.", "au.", "ca.")
_GLOBAL = "global."


def _split(model_id: str) -> tuple[str, bool]:
    """(base model id, whether the call goes through the global profile); an ARN's last path segment is the id."""
    name = model_id.rpartition("/")[2]
    if name.startswith(_GLOBAL):
        return name[len(_GLOBAL) :], True
    for prefix in _GEOGRAPHIC:
        if name.startswith(prefix):
            return name[len(prefix) :], False
    return name, False


def base_model_id(model_id: str) -> str:
    """The model id without its inference-profile prefix (or ARN)."""
    return _split(model_id)[0]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens of each kind."""

    input: float
    output: float
    cache_read: float
    cache_write_5m: float
    cache_write_1h: float

    def cost(self, usage: TokenCounts) -> float:
        """What these tokens cost. Cache writes are charged at the 5-minute rate: the usage Quarry records does not
        say which time-to-live a write had (1-hour writes are under-counted)."""
        return (
            usage["input_tokens"] * self.input
            + usage["output_tokens"] * self.output
            + usage["cache_read_tokens"] * self.cache_read
            + usage["cache_write_tokens"] * self.cache_write_5m
        ) / _MILLION

    def most(self, input_tokens: int, output_tokens: int) -> float:
        """The most `input_tokens` in and `output_tokens` out can cost, whatever share of the input is cached."""
        dearest_input = max(self.input, self.cache_read, self.cache_write_5m, self.cache_write_1h)
        return (max(0, input_tokens) * dearest_input + max(0, output_tokens) * self.output) / _MILLION

    def times(self, factor: float) -> Price:
        return Price(*(round(value * factor, 9) for value in (
            self.input, self.output, self.cache_read, self.cache_write_5m, self.cache_write_1h
        )))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """One model's entry: its price, a dearer one for prompts over `long_above` tokens, the regional premium."""

    price: Price
    regional_premium: bool = False
    long_above: int | None = None
    long_price: Price | None = None
    verified: bool = True


def _price(entry: Mapping[str, Any], where: str) -> Price:
    try:
        input_ = float(entry["input"])
        output = float(entry.get("output", 0.0))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{where}: a price needs numbers `input` and `output` (USD per million tokens)") from None
    cached = {
        name: float(entry[name]) if entry.get(name) is not None else input_  # unknown: charged as input
        for name in ("cache_read", "cache_write_5m", "cache_write_1h")
    }
    if min(input_, output, *cached.values()) < 0:
        raise ValueError(f"{where}: prices cannot be negative")
    return Price(input_, output, **cached)


def _entry(model: str, entry: Mapping[str, Any]) -> ModelPrice:
    long = entry.get("long_context")
    return ModelPrice(
        price=_price(entry, model),
        regional_premium=bool(entry.get("regional_premium", False)),
        long_above=int(long["above_input_tokens"]) if long else None,
        long_price=_price(long, f"{model} long_context") if long else None,
        verified=bool(entry.get("verified", True)),
    )


class PriceTable:
    """Prices by base model id; `cost` and `maximum` answer None for a model with no price."""

    def __init__(self, models: Mapping[str, ModelPrice], *, regional_multiplier: float = 1.1) -> None:
        self.models = dict(models)
        self.regional_multiplier = regional_multiplier
        # Each id's prices (its tiers, with the regional premium applied), worked out on its first call: every
        # admission and every finished call asks for them. Bounded by the ids the catalog resolves to.
        self._tiers: dict[str, tuple[Price, int | None, Price | None] | None] = {}

    def _tiers_of(self, model_id: str) -> tuple[Price, int | None, Price | None] | None:
        """(price, long_above, long price) for `model_id`, premium included; None when it has no price."""
        try:
            return self._tiers[model_id]
        except KeyError:
            pass
        base, is_global = _split(model_id)
        entry = self.models.get(base)
        tiers = None
        if entry is not None:
            premium = not is_global and entry.regional_premium
            price, long_price = entry.price, entry.long_price
            if premium:
                price = price.times(self.regional_multiplier)
                long_price = None if long_price is None else long_price.times(self.regional_multiplier)
            long_above = entry.long_above if long_price is not None else None
            tiers = (price, long_above, long_price)
        self._tiers[model_id] = tiers
        return tiers

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        """The shipped table, with `override`'s entries (same shape; whole entries replaced) merged over it."""
        raw = json.loads(resources.files("quarry.spend").joinpath("prices.json").read_text())
        if override is not None:
            try:
                extra = json.loads(override.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"the prices file {override} cannot be read: {exc}") from None
            raw["models"] = {**raw["models"], **extra.get("models", {})}
            raw["regional_premium_multiplier"] = extra.get(
                "regional_premium_multiplier", raw["regional_premium_multiplier"]
            )
        models = {name: _entry(name, entry) for name, entry in raw["models"].items()}
        return cls(models, regional_multiplier=float(raw["regional_premium_multiplier"]))

    def price(self, model_id: str, input_tokens: int = 0) -> Price | None:
        """The price a call to `model_id` (a base id, profile id or ARN) is charged for a prompt of this size."""
        tiers = self._tiers_of(model_id)
        if tiers is None:
            return None
        price, long_above, long_price = tiers
        if long_price is not None and long_above is not None and input_tokens > long_above:
            return long_price
        return price

    def cost(self, model_id: str, usage: TokenCounts) -> float | None:
        """What a call cost, from the tokens it used; None when the model has no price."""
        prompt = usage["input_tokens"] + usage["cache_read_tokens"] + usage["cache_write_tokens"]
        price = self.price(model_id, prompt)
        return None if price is None else price.cost(usage)

    def maximum(self, model_id: str, input_tokens: int, output_tokens: int) -> float | None:
        """The most a call can cost with this (estimated) prompt and output limit; None when the model has no price.
        The dearer tier is assumed when a model has one, since the estimate of the prompt is only an estimate."""
        tiers = self._tiers_of(model_id)
        if tiers is None:
            return None
        price, _, long_price = tiers
        most = price.most(input_tokens, output_tokens)
        return most if long_price is None else max(most, long_price.most(input_tokens, output_tokens))

    def with_model(self, model_id: str, price: ModelPrice) -> PriceTable:
        """A copy with one more (or replaced) model; for tests and embedding."""
        return PriceTable({**self.models, model_id: price}, regional_multiplier=self.regional_multiplier)
