"""The translation core: what every dialect shares on its way to and from Bedrock's Converse and Messages shapes.

Per-model rules (sampling, output limits, thinking mode, system prompts, cache points) read the model's facts
from `quarry.bedrock`; no dialect decides one on its own. Nothing here knows a dialect's wire shapes.
"""

from quarry.api._core._cache import add_cache_points, cache_point, strip_cache_points
from quarry.api._core._effort import EFFORT_ORDER, ReasoningLevel, capped_effort, effort_level, lowest_effort
from quarry.api._core._fit import fit_to_model
from quarry.api._core._forced_tools import refuse_converse_forced_tools, refuse_forced_tools
from quarry.api._core._guardrails import (
    INTERVENED,
    GuardrailVerdict,
    apply_guardrail,
    guard_converse,
    guardrail_config,
)
from quarry.api._core._history import ConverseHistory, empty_schema, normalise
from quarry.api._core._inference import inference_config, messages_sampling, top_k_fields
from quarry.api._core._json_output import JsonOutput, extract_json, json_output
from quarry.api._core._media import IMAGE_TYPES, BoundedLoader, ImageLimits, ImageLoader, Media
from quarry.api._core._messages_guardrail import (
    MessagesGuard,
    dict_events,
    refusal_events,
    refusal_message,
    refusal_sse,
    sse_events,
)
from quarry.api._core._output import DEFAULT_OUTPUT, output_limit, output_reserve
from quarry.api._core._prefill import PREFILL_REFUSED, refuse_converse_prefill, refuse_prefill
from quarry.api._core._reasoning import redacted_reasoning, signed_reasoning, thinking_block
from quarry.api._core._sampling import DROPPED_PARAMS_HEADER, SAMPLING_PARAMS, converse_sampling, strip_sampling
from quarry.api._core._service_tiers import (
    ANTHROPIC_SERVICE_TIERS,
    OPENAI_SERVICE_TIERS,
    AnthropicServiceTier,
    OpenAIServiceTier,
    anthropic_tier_name,
    bedrock_tier,
    openai_tier_name,
    set_service_tier,
)
from quarry.api._core._system_messages import fold_system_messages, top_level_system
from quarry.api._core._thinking import (
    MIN_BUDGET,
    Level,
    ThinkingMode,
    converse_thinking,
    effort_fields,
    level_for_budget,
    thinking_mode,
    thinking_on,
)
from quarry.api._core._tools import NO_TOOLS_NOTE, ToolChoiceKind, tool_config, tool_spec
from quarry.api._core._usage import Usage, stop_reason

__all__ = [
    "ANTHROPIC_SERVICE_TIERS",
    "DEFAULT_OUTPUT",
    "DROPPED_PARAMS_HEADER",
    "EFFORT_ORDER",
    "IMAGE_TYPES",
    "INTERVENED",
    "MIN_BUDGET",
    "NO_TOOLS_NOTE",
    "OPENAI_SERVICE_TIERS",
    "PREFILL_REFUSED",
    "SAMPLING_PARAMS",
    "AnthropicServiceTier",
    "BoundedLoader",
    "ConverseHistory",
    "GuardrailVerdict",
    "ImageLimits",
    "ImageLoader",
    "JsonOutput",
    "Level",
    "Media",
    "MessagesGuard",
    "OpenAIServiceTier",
    "ReasoningLevel",
    "ThinkingMode",
    "ToolChoiceKind",
    "Usage",
    "add_cache_points",
    "anthropic_tier_name",
    "apply_guardrail",
    "bedrock_tier",
    "cache_point",
    "capped_effort",
    "converse_sampling",
    "converse_thinking",
    "dict_events",
    "effort_fields",
    "effort_level",
    "empty_schema",
    "extract_json",
    "fit_to_model",
    "fold_system_messages",
    "guard_converse",
    "guardrail_config",
    "inference_config",
    "json_output",
    "level_for_budget",
    "lowest_effort",
    "messages_sampling",
    "normalise",
    "openai_tier_name",
    "output_limit",
    "output_reserve",
    "redacted_reasoning",
    "refusal_events",
    "refusal_message",
    "refusal_sse",
    "refuse_converse_forced_tools",
    "refuse_converse_prefill",
    "refuse_forced_tools",
    "refuse_prefill",
    "set_service_tier",
    "signed_reasoning",
    "sse_events",
    "stop_reason",
    "strip_cache_points",
    "strip_sampling",
    "thinking_block",
    "thinking_mode",
    "thinking_on",
    "tool_config",
    "tool_spec",
    "top_k_fields",
    "top_level_system",
]
