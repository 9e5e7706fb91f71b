"""Bedrock's service tiers as the runtime takes them: Converse's `serviceTier: {"type": …}` (request and response,
and ConverseStream's `metadata` event), InvokeModel's `X-Amzn-Bedrock-Service-Tier` header (request and response).

Shapes from botocore's bedrock-runtime service model (ServiceTier, ServiceTierType: `priority`, `default`, `flex`,
`reserved`; docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ServiceTier.html). Bedrock serves a call
without a tier at `default` (AWS user guide, service-tiers-inference.html) and reports the tier used in its answer;
the emulator reports it when one was asked (whether Bedrock names `default` unasked is not documented).
Its refusals, as callers have recorded them: a value outside the enum is "service tier provided is invalid", and
`reserved` without a reservation is "Reservation not found." (both ValidationException;
github.com/NousResearch/hermes-agent/pull/34476, github.com/envoyproxy/ai-gateway/pull/1749); a tier the model or
region does not offer is a ValidationException too (github.com/strands-agents/harness-sdk/pull/1799), whose wording
no source records, so the emulator's is its own. Which models offer which tiers is the emulator's config
(`service_tiers`: model id → the tiers it offers besides `default`, which every model has; a model not named offers
`priority` and `flex`, and `reserved` only where the config names it, as a reservation). The Messages endpoint is
outside the service model: the emulator takes the same header there (docs/bedrock-models-2026.md §3; unverified
against Bedrock).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quarry.emulator._errors import ValidationException

__all__ = ["TIER_HEADER", "check_offered", "converse_tier", "header_tier", "tier_headers"]

TIER_HEADER = "x-amzn-bedrock-service-tier"
_TIERS = ("priority", "default", "flex", "reserved")


def _checked(value: object) -> str:
    if not isinstance(value, str) or value not in _TIERS:
        raise ValidationException("service tier provided is invalid")
    return value


def check_offered(tier: str | None, model_id: str, offered: Mapping[str, Sequence[str]]) -> None:
    """Refuse a tier the model does not offer (`offered`: the emulator's config), as Bedrock does."""
    if tier is None or tier == "default":
        return
    tiers = offered.get(model_id)
    if tiers is None:
        if tier == "reserved":
            raise ValidationException("Reservation not found.")
        return
    if tier not in tiers:
        if tier == "reserved":
            raise ValidationException("Reservation not found.")
        raise ValidationException(f"The model {model_id} does not support the {tier} service tier.")


def converse_tier(body: dict[str, Any]) -> str | None:
    """The tier a Converse body asks for (removed from it), None when it names none."""
    asked = body.pop("serviceTier", None)
    if asked is None:
        return None
    if not isinstance(asked, dict) or set(asked) != {"type"}:
        raise ValidationException("serviceTier must be an object with one member, type.")
    return _checked(asked["type"])


def header_tier(headers: Mapping[str, str]) -> str | None:
    """The tier InvokeModel's (or the Messages endpoint's) header asks for, None without one."""
    asked = headers.get(TIER_HEADER)
    return None if asked is None else _checked(asked.strip())


def tier_headers(tier: str | None) -> list[tuple[bytes, bytes]]:
    """The answer's header naming the tier that served it (InvokeModelResponse.serviceTier), when one was asked."""
    return [] if tier is None else [(TIER_HEADER.encode(), tier.encode())]
