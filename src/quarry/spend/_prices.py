"""The price table: USD per million tokens per base model id, shipped as `prices.json` and merged with an operator's
file; a request's cost from the tokens it used, and its maximum cost before it is made (what budgets reserve).

Prices depend on the profile the call went through: `global.` profiles are charged the list price, geographic
profiles (`us.`, `eu.`, …) and in-region ids the list price times the table's regional multiplier, for the models
whose entry says so (Bedrock's 10% premium on the newest Claude models). Bedrock's service tiers change the price
by a multiplier of the standard (`default`) one: the table's `service_tiers`, overridden per model by the entry's own
(AWS: Priority is "Standard rate + premium", Flex a "Discounted standard model rate",
https://aws.amazon.com/bedrock/service-tiers; the figures are in docs/configuration.md with where they come from).
A call is charged at the tier that served it. Guardrails are charged apart, per 1,000 text units each policy judged
(`guardrails`, keyed by the policy's GuardrailUsage name). Nothing is fetched over the network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from quarry.exchange import TokenCounts

__all__ = ["ModelPrice", "Price", "PriceTable", "base_model_id"]

_MILLION = 1_000_000
_GUARDRAIL_UNITS = 1_000  # guardrail prices are per 1,000 text units
_REMEMBERED = 4096  # model ids whose prices are kept worked out
_GEOGRAPHIC = ("us-gov.", "us.", "eu.", "apac.", "jp.", "au.", "ca.")
_GLOBAL = "global."
# Reserved capacity that runs out overflows to the Standard tier (AWS user guide, service-tiers-inference.html), so a
# call asking for it may cost the standard price.
_OVERFLOWS_TO_DEFAULT = "reserved"


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
    service_tiers: Mapping[str, float] = field(default_factory=dict)  # tier → multiplier, over the table's


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


def _figures(raw: Any, where: str, *, shape: str, each: str, figure: str) -> dict[str, float]:
    """A block of named figures of 0 or more (`service_tiers`, `guardrails`); a name starting with `_` is a note."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: {shape}")
    figures: dict[str, float] = {}
    for name, value in raw.items():
        if name.startswith("_"):  # a note beside the figures
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{where}: {each} {name!r} needs {figure} of 0 or more, not {value!r}")
        figures[name] = float(value)
    return figures


def _multipliers(raw: Any, where: str) -> dict[str, float]:
    """`service_tiers`: tier name → the multiple of the standard price it is charged (`{"flex": 0.5}`)."""
    shape = "`service_tiers` maps a tier (priority, flex, reserved) to a multiplier"
    return _figures(raw, where, shape=shape, each="service tier", figure="a multiplier")


def _unit_prices(raw: Any, where: str) -> dict[str, float]:
    """`guardrails`: a policy's usage name (`contentPolicyUnits`, …) → USD per 1,000 text units."""
    shape = "`guardrails` maps a policy's units (contentPolicyUnits, …) to USD per 1,000"
    return _figures(raw, where, shape=shape, each="guardrail policy", figure="a price")


def _entry(model: str, entry: Mapping[str, Any]) -> ModelPrice:
    long = entry.get("long_context")
    return ModelPrice(
        price=_price(entry, model),
        regional_premium=bool(entry.get("regional_premium", False)),
        long_above=int(long["above_input_tokens"]) if long else None,
        long_price=_price(long, f"{model} long_context") if long else None,
        verified=bool(entry.get("verified", True)),
        service_tiers=_multipliers(entry.get("service_tiers"), model),
    )


class PriceTable:
    """Prices by base model id; `cost` and `maximum` answer None for a model with no price."""

    def __init__(
        self,
        models: Mapping[str, ModelPrice],
        *,
        regional_multiplier: float = 1.1,
        service_tiers: Mapping[str, float] | None = None,
        guardrails: Mapping[str, float] | None = None,
    ) -> None:
        self.models = dict(models)
        self.regional_multiplier = regional_multiplier
        self.service_tiers = dict(service_tiers or {})  # tier → multiplier of the standard price, for every model
        self.guardrails = dict(guardrails or {})  # guardrail policy units → USD per 1,000
        # Each id's standard prices (both prompt sizes, with the regional premium applied), worked out on its first
        # call: every admission and every finished call asks for them.
        self._standard: dict[str, tuple[Price, int | None, Price | None] | None] = {}
        # The prices a reservation may be charged at, per (id, tier): every admission asks `maximum` for them.
        self._ceilings: dict[tuple[str, str | None], tuple[Price, ...] | None] = {}

    def _standard_of(self, model_id: str) -> tuple[Price, int | None, Price | None] | None:
        """(price, long_above, long price) for `model_id` at the standard tier, premium included; None when it has
        no price."""
        try:
            return self._standard[model_id]
        except KeyError:
            pass
        base, is_global = _split(model_id)
        entry = self.models.get(base)
        standard = None
        if entry is not None:
            premium = not is_global and entry.regional_premium
            price, long_price = entry.price, entry.long_price
            if premium:
                price = price.times(self.regional_multiplier)
                long_price = None if long_price is None else long_price.times(self.regional_multiplier)
            long_above = entry.long_above if long_price is not None else None
            standard = (price, long_above, long_price)
        if len(self._standard) >= _REMEMBERED:  # ids on Bedrock's own routes are the caller's: keep the memo bounded
            self._standard.clear()
        self._standard[model_id] = standard
        return standard

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        """The shipped table, with `override`'s entries (same shape; whole entries replaced) merged over it."""
        raw = json.loads(resources.files("quarry.spend").joinpath("prices.json").read_text())
        tiers = _multipliers(raw.get("service_tiers"), "service_tiers")
        guardrails = _unit_prices(raw.get("guardrails"), "guardrails")
        if override is not None:
            try:
                extra = json.loads(override.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"the prices file {override} cannot be read: {exc}") from None
            raw["models"] = {**raw["models"], **extra.get("models", {})}
            raw["regional_premium_multiplier"] = extra.get(
                "regional_premium_multiplier", raw["regional_premium_multiplier"]
            )
            tiers |= _multipliers(extra.get("service_tiers"), f"{override}: service_tiers")
            guardrails |= _unit_prices(extra.get("guardrails"), f"{override}: guardrails")
        models = {name: _entry(name, entry) for name, entry in raw["models"].items()}
        return cls(
            models,
            regional_multiplier=float(raw["regional_premium_multiplier"]),
            service_tiers=tiers,
            guardrails=guardrails,
        )

    def tier_multiplier(self, model_id: str, tier: str | None) -> float:
        """The multiple of the standard price a call at `tier` is charged (1 for the standard tier, or one with no
        figure): the model's own figure, else the table's."""
        if tier is None or tier == "default":
            return 1.0
        entry = self.models.get(_split(model_id)[0])
        own = entry.service_tiers.get(tier) if entry is not None else None
        return own if own is not None else self.service_tiers.get(tier, 1.0)

    def price(self, model_id: str, input_tokens: int = 0, tier: str | None = None) -> Price | None:
        """The price a call to `model_id` (a base id, profile id or ARN) is charged for a prompt of this size, at
        the service tier that served it (None: the standard one)."""
        standard = self._standard_of(model_id)
        if standard is None:
            return None
        price, long_above, long_price = standard
        if long_price is not None and long_above is not None and input_tokens > long_above:
            price = long_price
        factor = self.tier_multiplier(model_id, tier)
        return price if factor == 1.0 else price.times(factor)

    def cost(self, model_id: str, usage: TokenCounts, tier: str | None = None) -> float | None:
        """What a call cost, from the tokens it used and the tier that served it; None when the model has no price."""
        prompt = usage["input_tokens"] + usage["cache_read_tokens"] + usage["cache_write_tokens"]
        price = self.price(model_id, prompt, tier)
        return None if price is None else price.cost(usage)

    def guardrail_cost(self, units: Mapping[str, int]) -> float:
        """What a guardrail's judging cost: each policy's text units at its price (a policy with none costs 0)."""
        return sum(self.guardrails.get(policy, 0.0) * count for policy, count in units.items()) / _GUARDRAIL_UNITS

    def maximum(self, model_id: str, input_tokens: int, output_tokens: int, tier: str | None = None) -> float | None:
        """The most a call can cost with this (estimated) prompt and output limit at the tier it asks for; None when
        the model has no price. The dearer prompt-size tier is assumed when a model has one, since the estimate of
        the prompt is only an estimate, and a reserved call may overflow to the standard price."""
        try:
            prices = self._ceilings[model_id, tier]
        except KeyError:
            if len(self._ceilings) >= _REMEMBERED:  # bounded as `_standard` is
                self._ceilings.clear()
            prices = self._ceilings[model_id, tier] = self._ceiling_prices(model_id, tier)
        if prices is None:
            return None
        if len(prices) == 1:  # most models: one price at the tier asked, no long-context one
            return prices[0].most(input_tokens, output_tokens)
        return max(price.most(input_tokens, output_tokens) for price in prices)

    def _ceiling_prices(self, model_id: str, tier: str | None) -> tuple[Price, ...] | None:
        standard = self._standard_of(model_id)
        if standard is None:
            return None
        long_above = standard[1]
        tiers = [tier, None] if tier == _OVERFLOWS_TO_DEFAULT else [tier]
        prices = [self.price(model_id, 0, t) for t in tiers]
        if long_above is not None:
            prices += [self.price(model_id, long_above + 1, t) for t in tiers]
        return tuple(price for price in prices if price is not None)

    def with_model(self, model_id: str, price: ModelPrice) -> PriceTable:
        """A copy with one more (or replaced) model; for tests and embedding."""
        return PriceTable(
            {**self.models, model_id: price},
            regional_multiplier=self.regional_multiplier,
            service_tiers=self.service_tiers,
            guardrails=self.guardrails,
        )
