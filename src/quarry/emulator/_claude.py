"""Claude's per-model request rules, as Bedrock enforces them: thinking types, effort, sampling, prefill, forced tool
choice and mid-conversation system messages.

Each rule lives once, in `_enforce`, which reads a neutral view of the request; `check_claude_request` builds that
view from an Anthropic Messages body (InvokeModel and the Messages route) and `check_converse_request` from a Converse
body, so every API refuses alike. The rules per model are the catalog's `claude` objects; sources and the facts behind
them are in docs/bedrock-models-2026.md (§1.3 thinking and effort, §1.4 request rules, §4 Converse's fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quarry.emulator._catalog import ClaudeRules, Model
from quarry.emulator._errors import ValidationException

__all__ = ["EFFORT_LEVELS", "ClaudeRequest", "ClaudeRuleError", "check_claude_request", "check_converse_request"]

EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")  # ascending
_THINKING_TYPES = ("enabled", "adaptive", "disabled")
_SAMPLING = ("temperature", "top_p", "top_k")
_DEFAULT_SAMPLING = {"temperature": 1, "top_p": 1}  # top_k has no default value: any value is a change
_OUTPUT_CONFIG_KEYS = ("effort", "format")
_MISSING = object()


class ClaudeRuleError(ValidationException):
    """A request the model refuses. `detail` is Anthropic's message (an `invalid_request_error` on the Messages
    route); `message` is how Bedrock's runtime relays it on InvokeModel and Converse."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"The model returned the following errors: {detail}")
        self.detail = detail

    @property
    def code(self) -> str:
        return "ValidationException"


@dataclass(frozen=True, slots=True)
class ClaudeRequest:
    """What a valid request asks of the model."""

    thinking: str | None = None  # "enabled" | "adaptive" | "between_tools"; None: the model does not think
    explicit_thinking: bool = False  # the request itself asked for thinking (not the model's default)
    budget: int = 0  # `budget_tokens` of `enabled` thinking
    effort: str | None = None  # the effort the model works at (the request's, else the model's default)
    display: str = "summarized"  # "summarized" | "omitted": whether thinking text is returned
    json_schema: dict[str, Any] | None = None  # structured output (`output_config.format` bodies only)


@dataclass(frozen=True, slots=True)
class _View:
    """The parts of a request the rules read, whichever body shape it came in."""

    thinking: Any
    effort: Any
    sampling: dict[str, Any]
    max_tokens: Any
    tool_choice: str  # "auto" | "any" | "tool" | "none"
    last_role: Any  # role of the last message that is not a system message


def _one_of(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _above(effort: str, cap: str | None) -> bool:
    return cap is not None and effort in EFFORT_LEVELS and EFFORT_LEVELS.index(effort) > EFFORT_LEVELS.index(cap)


def _check_effort(effort: Any, rules: ClaudeRules) -> str | None:
    if effort is _MISSING:
        return rules.effort_default
    if not rules.effort:
        # Bedrock's answer to effort on a model without it:
        # https://github.com/anthropics/claude-code-action/issues/1005
        raise ClaudeRuleError("output_config.effort: Extra inputs are not permitted")
    if effort not in rules.effort:
        # Pydantic's enum wording, as https://github.com/coder/coder/issues/25356 saw it on Bedrock.
        raise ClaudeRuleError(f"output_config.effort: Input should be {_one_of(rules.effort)}")
    return str(effort)


def _check_sampling(view: _View, rules: ClaudeRules) -> None:
    if not rules.sampling_default_only:
        return
    for name in _SAMPLING:
        value = view.sampling.get(name)
        if value is not None and (name not in _DEFAULT_SAMPLING or value != _DEFAULT_SAMPLING[name]):
            # Claude 4.7+ take only the defaults (doc §1.4); wording from https://github.com/Comfy-Org/ComfyUI/issues/13923
            raise ClaudeRuleError(f"`{name}` is deprecated for this model.")


def _enabled_budget(thinking: dict[str, Any], view: _View) -> int:
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        raise ClaudeRuleError("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if isinstance(view.max_tokens, int) and budget >= view.max_tokens:
        raise ClaudeRuleError(
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
            "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
        )
    temperature = view.sampling.get("temperature")
    if temperature is not None and temperature != 1:
        raise ClaudeRuleError(
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
        )
    return budget


def _refuse_type(kind: str, rules: ClaudeRules) -> ClaudeRuleError:
    if kind == "enabled":
        # https://github.com/aws-samples/amazon-bedrock-client-for-mac/issues/129 (Opus 4.7 on Bedrock)
        return ClaudeRuleError(
            '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
            '"output_config.effort" to control thinking behavior.'
        )
    if kind == "adaptive":
        # Claude 4.5 and older: https://github.com/askalf/dario/pull/273 (live probe)
        return ClaudeRuleError("adaptive thinking is not supported on this model")
    if kind == "disabled" and "between_tools" in rules.thinking:
        # Sonnet 5.5 points to `between_tools` (doc §1.3); the exact text is unpublished, so this follows the
        # wording of the `enabled` refusal above.
        return ClaudeRuleError(
            '"thinking.type.disabled" is not supported for this model. Use "thinking.type.between_tools" for the '
            'least thinking, and "output_config.effort" to control thinking behavior.'
        )
    if kind == "disabled":
        # Always-on thinking (Opus 5.5, Fable 5.1, doc §1.3); wording modelled on the `enabled` refusal.
        return ClaudeRuleError(
            '"thinking.type.disabled" is not supported for this model. Thinking is always on; use '
            '"output_config.effort" to control thinking behavior.'
        )
    return ClaudeRuleError(f"thinking.type: Input should be {_one_of(_known_types(rules))}")


def _known_types(rules: ClaudeRules) -> tuple[str, ...]:
    return _THINKING_TYPES + (("between_tools",) if "between_tools" in rules.thinking else ())


def _check_thinking(view: _View, model: Model, effort: str | None) -> ClaudeRequest:
    rules = model.claude
    thinking = view.thinking
    display = "omitted" if "enabled" not in rules.thinking and rules.effort else "summarized"
    if not thinking:
        return ClaudeRequest(thinking=rules.thinking_default, effort=effort, display=display)
    if not isinstance(thinking, dict):
        raise ClaudeRuleError("thinking: Input should be a valid dictionary or object to extract fields from")
    kind = thinking.get("type")
    if kind != "disabled" and not (model.supports("thinking") or model.supports("adaptiveThinking")):
        raise ClaudeRuleError("thinking: Extra inputs are not permitted")
    if kind not in _known_types(rules):
        raise ClaudeRuleError(f"thinking.type: Input should be {_one_of(_known_types(rules))}")
    if kind not in rules.thinking:
        raise _refuse_type(str(kind), rules)
    requested_display = thinking.get("display", display)
    if requested_display not in ("summarized", "omitted"):
        raise ClaudeRuleError("thinking.display: Input should be 'summarized' or 'omitted'")
    if kind == "disabled":
        if effort is not None and _above(effort, rules.disabled_max_effort):
            # Converse's service model: "When extended thinking is disabled, the effort level is capped at `high`."
            # (doc §4); no source publishes the refusal's text, so the wording is ours.
            raise ClaudeRuleError(
                f'output_config.effort: "{effort}" requires thinking; with "thinking.type.disabled" the effort can '
                f'be at most "{rules.disabled_max_effort}".'
            )
        return ClaudeRequest(effort=effort, display=requested_display)
    if kind == "enabled":
        budget = _enabled_budget(thinking, view)
        return ClaudeRequest("enabled", True, budget, effort, requested_display)
    if "budget_tokens" in thinking:
        raise ClaudeRuleError(f"thinking.{kind}.budget_tokens: Extra inputs are not permitted")
    if kind == "between_tools" and effort is not None and _above(effort, rules.between_tools_max_effort):
        # Sonnet 5.5 allows `between_tools` at low/medium/high only (doc §1.3); the wording is ours.
        raise ClaudeRuleError(
            f'output_config.effort: "{effort}" is not available with "thinking.type.between_tools"; use an effort '
            f'of at most "{rules.between_tools_max_effort}" or "thinking.type.adaptive".'
        )
    return ClaudeRequest(str(kind), True, 0, effort, requested_display)


def _enforce(view: _View, model: Model) -> ClaudeRequest:
    rules = model.claude
    _check_sampling(view, rules)
    effort = _check_effort(view.effort, rules)
    request = _check_thinking(view, model, effort)
    if view.last_role == "assistant" and not rules.prefill:
        # doc §1.4 (Claude 4.6 and later)
        raise ClaudeRuleError(
            "This model does not support assistant message prefill. The conversation must end with a user message."
        )
    if view.tool_choice in ("any", "tool") and not rules.forced_tool_choice:
        # Opus 5.5, Sonnet 5.5 and Fable 5.1 always think (doc §1.3-1.4), and Claude refuses forced tool use while
        # thinking; Anthropic's wording, as Bedrock relays it: https://github.com/can1357/oh-my-pi/issues/341
        raise ClaudeRuleError("Thinking may not be enabled when tool_choice forces tool use.")
    return request


def _last_role(messages: Any) -> Any:
    if not isinstance(messages, list):
        return None
    roles = [m.get("role") for m in messages if isinstance(m, dict) and m.get("role") != "system"]
    return roles[-1] if roles else None


def _json_schema_format(value: Any, model: Model) -> dict[str, Any]:
    if not model.supports("structuredOutput"):
        raise ClaudeRuleError("output_config.format: Extra inputs are not permitted")
    if not isinstance(value, dict) or value.get("type") != "json_schema":
        raise ClaudeRuleError("output_config.format.type: Input should be 'json_schema'")
    schema = value.get("schema")
    if not isinstance(schema, dict):
        raise ClaudeRuleError("output_config.format.schema: Input should be a valid dictionary")
    return schema


def _output_config(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ClaudeRuleError("output_config: Input should be a valid dictionary or object to extract fields from")
    for key in value:
        if key not in _OUTPUT_CONFIG_KEYS:
            raise ClaudeRuleError(f"output_config.{key}: Extra inputs are not permitted")
    return value


def check_claude_request(model: Model, body: dict[str, Any]) -> ClaudeRequest:
    """Apply the model's rules to an Anthropic Messages body; raises ClaudeRuleError as the model refuses it.

    For InvokeModel and the Messages route alike. Shape errors (roles, content, tools) are checked elsewhere."""
    rules = model.claude
    messages = body.get("messages")
    if isinstance(messages, list) and not rules.system_messages:
        for message in messages:
            if isinstance(message, dict) and message.get("role") == "system":
                # doc §1.4: Opus 4.8 and later take them; wording from the source quoted there
                raise ClaudeRuleError("role 'system' is not supported on this model")
    output_config = _output_config(body.get("output_config"))
    schema = _json_schema_format(output_config["format"], model) if "format" in output_config else None
    choice = body.get("tool_choice")
    view = _View(
        thinking=body.get("thinking"),
        effort=output_config.get("effort", _MISSING),
        sampling={name: body[name] for name in _SAMPLING if body.get(name) is not None},
        max_tokens=body.get("max_tokens"),
        tool_choice=str(choice.get("type", "auto")) if isinstance(choice, dict) and body.get("tools") else "auto",
        last_role=_last_role(messages),
    )
    request = _enforce(view, model)
    return ClaudeRequest(
        request.thinking, request.explicit_thinking, request.budget, request.effort, request.display, schema
    )


def check_converse_request(model: Model, body: dict[str, Any]) -> ClaudeRequest:
    """The same rules on a Converse body: thinking in `additionalModelRequestFields.thinking`, effort in
    `outputConfig.effort` or `additionalModelRequestFields.output_config.effort`, sampling in `inferenceConfig`
    (and `top_k` in the additional fields), forced choice in `toolConfig.toolChoice`."""
    extra = body.get("additionalModelRequestFields") or {}
    inference = body.get("inferenceConfig") or {}
    extra_output = _output_config(extra.get("output_config"))
    effort: Any = _MISSING
    if isinstance(body.get("outputConfig"), dict) and "effort" in body["outputConfig"]:
        effort = body["outputConfig"]["effort"]
    elif "effort" in extra_output:
        effort = extra_output["effort"]
    choice = (body.get("toolConfig") or {}).get("toolChoice") or {}
    sampling = {
        "temperature": inference.get("temperature"),
        "top_p": inference.get("topP"),
        "top_k": extra.get("top_k"),
    }
    view = _View(
        thinking=extra.get("thinking", extra.get("reasoning_config")),
        effort=effort,
        sampling={k: v for k, v in sampling.items() if v is not None},
        max_tokens=inference.get("maxTokens", model.max_output_tokens),
        tool_choice="tool" if "tool" in choice else "any" if "any" in choice else "auto",
        last_role=_last_role(body.get("messages")),
    )
    request = _enforce(view, model)
    schema = _json_schema_format(extra_output["format"], model) if "format" in extra_output else None
    return ClaudeRequest(
        request.thinking, request.explicit_thinking, request.budget, request.effort, request.display, schema
    )
