"""Bedrock's service tiers (`priority`, `default`, `flex`, `reserved`) in every dialect's words, once.

What a caller asks for:
- OpenAI's `service_tier` (`auto`, `default`, `flex`, `scale`, `priority`, `fast`, and `ultrafast` on Responses; the
  openai SDK's ChatCompletion and Responses create params): `auto` leaves the choice to the operator, as OpenAI leaves
  it to the project; `fast` is OpenAI's other name for `priority`, and `ultrafast`, its fastest tier, is Bedrock's
  fastest, `priority`; `scale`, OpenAI's reserved capacity, is Bedrock's Reserved.
- Anthropic's `service_tier` (`auto`, `standard_only`; https://platform.claude.com/docs/en/api/service-tiers):
  `auto` may use capacity beyond the standard tier, so it is the operator's choice; `standard_only` is `default`.
With no tier asked, or `auto`, the operator's `models.service_tiers` for the model decides, else Bedrock's default.

What the answer says back, from the tier Bedrock reports (Converse's `serviceTier`, InvokeModel's header):
OpenAI's `service_tier` names it as OpenAI would (`reserved` → `scale`), Anthropic's `usage.service_tier` as
Anthropic does (`default` → `standard`; `flex`, which Anthropic has no name for, as itself).
"""

from __future__ import annotations

from typing import Literal

from quarry.bedrock import ConverseRequest, ResolvedModel, ServiceTierType
from quarry.settings import ModelSettings

__all__ = [
    "ANTHROPIC_SERVICE_TIERS",
    "OPENAI_SERVICE_TIERS",
    "AnthropicServiceTier",
    "OpenAIServiceTier",
    "anthropic_tier_name",
    "bedrock_tier",
    "openai_tier_name",
    "set_service_tier",
]

OpenAIServiceTier = Literal["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"]
AnthropicServiceTier = Literal["auto", "standard_only"]

# The caller's word → Bedrock's tier; None: the operator's (or Bedrock's) default.
OPENAI_SERVICE_TIERS: dict[str, ServiceTierType | None] = {
    "auto": None,
    "default": "default",
    "flex": "flex",
    "priority": "priority",
    "fast": "priority",
    "ultrafast": "priority",
    "scale": "reserved",
}
ANTHROPIC_SERVICE_TIERS: dict[str, ServiceTierType | None] = {"auto": None, "standard_only": "default"}
_OPENAI_NAMES = {"default": "default", "flex": "flex", "priority": "priority", "reserved": "scale"}
_ANTHROPIC_NAMES = {"default": "standard", "flex": "flex", "priority": "priority", "reserved": "priority"}


def bedrock_tier(asked: ServiceTierType | None, settings: ModelSettings, model: ResolvedModel) -> str | None:
    """The tier to ask Bedrock for: the caller's, else the operator's for the model (None: Bedrock's default)."""
    if asked is not None:
        return asked
    return settings.service_tier_for(model.requested, model.id, model.base_id)


def set_service_tier(request: ConverseRequest, tier: str | None) -> None:
    """Converse's `serviceTier` for `tier`, unless the request names one of its own (or no tier is asked)."""
    if tier is not None and "serviceTier" not in request:
        request["serviceTier"] = {"type": tier}  # type: ignore[typeddict-item]  # checked by settings and dialects


def openai_tier_name(served: str | None) -> str:
    """The tier that served a call, as OpenAI's `service_tier` names it (none reported: Bedrock's default)."""
    return _OPENAI_NAMES.get(served or "default", served or "default")


def anthropic_tier_name(served: str | None) -> str:
    """The tier that served a call, as Anthropic's `usage.service_tier` names it."""
    return _ANTHROPIC_NAMES.get(served or "default", served or "standard")
