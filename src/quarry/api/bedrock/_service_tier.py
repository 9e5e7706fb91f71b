"""Bedrock's service tier on its own routes: the caller's passes through unchanged (Converse's `serviceTier` in the
body, InvokeModel's `X-Amzn-Bedrock-Service-Tier` header; botocore's bedrock-runtime service model), and the
operator's tier for the model (`models.service_tiers`) is added only where the caller named none, as a key's
guardrail is. What is asked prices the call's budget reservation; what Bedrock's answer names is what it costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from quarry.bedrock import TIER_HEADER

__all__ = ["asked_tier", "with_tier"]

_HEADER = TIER_HEADER.lower()
_CONVERSE = ("converse", "converse-stream")


def asked_tier(operation: str, decoded: dict[str, Any], headers: Mapping[str, str]) -> str | None:
    """The tier the caller's request asks for (None: none, or not one this reading understands; Bedrock judges)."""
    if operation in _CONVERSE:
        asked = decoded.get("serviceTier")
        tier = asked.get("type") if isinstance(asked, dict) else None
    else:
        tier = next((value for name, value in headers.items() if name.lower() == _HEADER), None)
    return tier if isinstance(tier, str) and tier else None


def with_tier(
    operation: str, body: bytes, decoded: dict[str, Any], headers: Mapping[str, str], tier: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers to relay with the operator's `tier` added (the caller named none)."""
    sent = {name.lower(): value for name, value in headers.items()}
    if operation in _CONVERSE:
        return (orjson.dumps(decoded | {"serviceTier": {"type": tier}}) if decoded else body), sent
    sent[_HEADER] = tier
    return body, sent
