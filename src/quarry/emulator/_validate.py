"""Checks a Converse request the way Bedrock does, with Bedrock's messages, and builds a Conversation.

The Anthropic InvokeModel path converts its body into this shape first, so both APIs share every check.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from quarry.emulator._catalog import Model, Resolved
from quarry.emulator._claude import ClaudeRequest, check_converse_request
from quarry.emulator._conversation import Conversation, ToolSpec, input_tokens
from quarry.emulator._errors import ValidationException
from quarry.emulator._signature import valid_signature

__all__ = ["model_error", "parse_converse", "sniff_image"]

_CONTENT_KINDS = (
    "text", "image", "document", "video", "audio", "toolUse", "toolResult", "guardContent", "cachePoint",
    "reasoningContent", "citationsContent", "searchResult", "toolAddition", "toolRemoval",
)  # fmt: skip
_SYSTEM_KINDS = ("text", "cachePoint", "toolAddition", "toolRemoval")  # what a `system` role message may hold
_DOCUMENT_NAME = re.compile(r"^(?!.*\s\s)[A-Za-z0-9\s\-()\[\]]+$")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ANTHROPIC_EXTRA_FIELDS = {"thinking", "top_k", "anthropic_beta", "reasoning_config", "output_config", "tool_choice"}


def model_error(detail: str) -> ValidationException:
    """An error the model itself returns, wrapped as Bedrock wraps it."""
    return ValidationException(f"The model returned the following errors: {detail}")


def _constraint(value: object, path: str, rule: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: {rule}"
    )


def sniff_image(data: bytes) -> str | None:
    """The image format the bytes really are."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _decode(source: dict[str, Any], path: str) -> bytes:
    raw = source.get("bytes")
    if not isinstance(raw, str) or not raw:
        raise _constraint(raw, f"{path}.source.bytes", "Member must have length greater than or equal to 1")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationException(f"Invalid base64 data at {path}.source.bytes.") from exc


def _check_image(block: dict[str, Any], path: str, model: Model) -> None:
    if not model.supports("vision"):
        raise ValidationException(
            "This model doesn't support the image content block that you provided. "
            "Try again with a supported content block."
        )
    declared = block.get("format")
    if declared not in ("png", "jpeg", "gif", "webp"):
        raise _constraint(declared, f"{path}.format", "Member must satisfy enum value set: [png, jpeg, gif, webp]")
    data = _decode(block.get("source") or {}, path)
    actual = sniff_image(data)
    if actual is None:
        raise ValidationException(f"Unable to process the image at {path}: the data is not a valid image.")
    if actual != declared:
        raise model_error(
            f"{path}.source.base64: The image was specified using the image/{declared} media type, "
            f"but the image appears to be a image/{actual} image"
        )
    block["_size"] = len(data)


def _check_document(block: dict[str, Any], path: str, model: Model) -> None:
    if not model.supports("documents"):
        raise ValidationException("This model doesn't support documents. Try again with a supported content block.")
    name = block.get("name", "")
    if not isinstance(name, str) or not _DOCUMENT_NAME.match(name):
        raise ValidationException(
            "The document file name can only contain alphanumeric characters, whitespace characters, hyphens, "
            "parentheses, and square brackets. The name can't contain more than one consecutive whitespace character."
        )
    source = block.get("source") or {}
    if "bytes" in source:
        block["_size"] = len(_decode(source, path))
    elif "text" in source:
        block["_size"] = len(str(source["text"]).encode())
    elif "content" in source:
        block["_size"] = sum(len(str(c.get("text", "")).encode()) for c in source["content"])
    else:
        raise ValidationException(f"The document source at {path} is empty. Provide bytes, text or content.")


def _check_block(block: Any, path: str, model: Model, role: str) -> None:
    if not isinstance(block, dict) or len([k for k in block if k in _CONTENT_KINDS]) != 1:
        raise ValidationException(f"The content block at {path} must set exactly one member.")
    if "text" in block:
        if not isinstance(block["text"], str) or not block["text"].strip():
            raise ValidationException(
                f"The text field in the ContentBlock object at {path} is blank. Add text to the text field, "
                "and try again."
            )
    elif "image" in block:
        _check_image(block["image"], f"{path}.image", model)
    elif "document" in block:
        _check_document(block["document"], f"{path}.document", model)
    elif "video" in block or "audio" in block:
        raise ValidationException(
            "This model doesn't support the video or audio content block that you provided. "
            "Try again with a supported content block."
        )
    elif "toolUse" in block and role != "assistant":
        raise ValidationException(f"The toolUse block at {path} can only appear in an assistant message.")
    elif "toolResult" in block and role != "user":
        raise ValidationException(f"The toolResult block at {path} can only appear in a user message.")
    elif "cachePoint" in block and not model.supports("cachePoints"):
        raise ValidationException("You invoked an unsupported model or your request did not allow prompt caching.")
    elif ("toolAddition" in block or "toolRemoval" in block) and role != "system":
        # Converse's service model: "Use within a `system` role message" (docs/bedrock-models-2026.md §4)
        raise ValidationException(f"The {next(iter(block))} block at {path} can only appear in a system message.")
    if role == "system" and not any(kind in block for kind in _SYSTEM_KINDS):
        raise ValidationException(f"The content block at {path} can't appear in a system message.")


def _turns(messages: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The user and assistant turns with their indices: mid-conversation system messages stand between turns."""
    return [(i, m) for i, m in enumerate(messages) if m["role"] != "system"]


def _check_turns(messages: Any, model: Model) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise ValidationException(
            "A conversation must start with a user message. Try again with a conversation that starts with a user "
            "message."
        )
    previous = None
    # Converse has a `system` role since 2026-05-28, for the models that take system messages (doc §4, §1.4).
    roles = ("user", "assistant", "system") if model.claude.system_messages else ("user", "assistant")
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in roles:
            raise _constraint(
                role, f"messages.{i}.member.role", f"Member must satisfy enum value set: [{', '.join(roles)}]"
            )
        if i == 0 and role != "user":
            raise ValidationException(
                "A conversation must start with a user message. Try again with a conversation that starts with a "
                "user message."
            )
        if role == previous and role != "system":
            raise ValidationException(
                "A conversation must alternate between user and assistant roles. Make sure the conversation "
                "alternates between user and assistant roles and try again."
            )
        previous = role if role != "system" else previous
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise ValidationException(
                f"The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the "
                "content field and try again."
            )
        for j, block in enumerate(content):
            _check_block(block, f"messages.{i}.content.{j}", model, str(role))
    return messages


def _check_tool_pairs(messages: list[dict[str, Any]], has_tool_config: bool) -> None:
    uses_tools = any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
    if uses_tools and not has_tool_config:
        raise ValidationException(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    turns = _turns(messages)
    for position, (i, message) in enumerate(turns):
        if message["role"] != "user":
            continue
        results = [b["toolResult"].get("toolUseId") for b in message["content"] if "toolResult" in b]
        previous = turns[position - 1][1]["content"] if position > 0 else []
        expected = [b["toolUse"].get("toolUseId") for b in previous if "toolUse" in b]
        if len(results) > len(expected):
            raise ValidationException(
                f"The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks of "
                "previous turn."
            )
        missing = [tool_id for tool_id in expected if tool_id not in results]
        if missing:
            raise ValidationException(
                f"Expected toolResult blocks at messages.{i}.content for the following Ids: {', '.join(missing)}"
            )
        unknown = [tool_id for tool_id in results if tool_id not in expected]
        if unknown:
            raise ValidationException(
                f"The toolResult block with toolUseId {unknown[0]} at messages.{i}.content does not match any toolUse "
                "block of the previous turn."
            )


def _tools(config: Any, model: Model, streaming: bool) -> tuple[list[ToolSpec], str, str]:
    if config is None:
        return [], "auto", ""
    if not model.supports("tools"):
        raise ValidationException("This model doesn't support tool use.")
    if streaming and not model.supports("streamingTools"):
        raise ValidationException("This model doesn't support tool use in streaming mode.")
    tools = config.get("tools") if isinstance(config, dict) else None
    if not isinstance(tools, list) or not tools:
        raise _constraint(tools, "toolConfig.tools", "Member must have length greater than or equal to 1")
    specs: list[ToolSpec] = []
    for i, tool in enumerate(tools):
        if "cachePoint" in tool:
            continue
        spec = tool.get("toolSpec")
        if not isinstance(spec, dict):
            raise ValidationException(f"The tool at toolConfig.tools.{i} must set toolSpec or cachePoint.")
        name = spec.get("name", "")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise _constraint(
                name,
                f"toolConfig.tools.{i}.member.toolSpec.name",
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+",
            )
        schema = (spec.get("inputSchema") or {}).get("json")
        if not isinstance(schema, dict) or schema.get("type", "object") != "object":
            raise model_error(
                f"tools.{i}.custom.input_schema: JSON schema is invalid - please consult "
                "https://json-schema.org or our documentation at https://docs.anthropic.com/en/docs/tool-use"
            )
        if any(s.name == name for s in specs):
            raise model_error("tools: Tool names must be unique.")
        specs.append(ToolSpec(name, str(spec.get("description") or ""), schema))
    choice = config.get("toolChoice") or {"auto": {}}
    if "tool" in choice:
        chosen = (choice["tool"] or {}).get("name", "")
        if chosen not in {s.name for s in specs}:
            raise ValidationException(f"The tool {chosen} in toolChoice isn't defined in toolConfig.tools.")
        return specs, "tool", chosen
    return specs, ("any" if "any" in choice else "auto"), ""


def _check_inference(config: Any, model: Model) -> tuple[int, list[str], float | None, float | None]:
    config = config or {}
    max_tokens = config.get("maxTokens")
    if max_tokens is None:
        max_tokens = model.max_output_tokens
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise _constraint(max_tokens, "inferenceConfig.maxTokens", "Member must have value greater than or equal to 1")
    if max_tokens > model.max_output_tokens:
        raise ValidationException(
            f"The maximum tokens you requested exceeds the model limit of {model.max_output_tokens}. Try again with a "
            f"maximum tokens value that is lower than {model.max_output_tokens}."
        )
    temperature, top_p = config.get("temperature"), config.get("topP")
    for value, name in ((temperature, "temperature"), (top_p, "topP")):
        if value is not None and not (isinstance(value, int | float) and 0 <= value <= 1):
            raise _constraint(value, f"inferenceConfig.{name}", "Member must have value less than or equal to 1")
    if temperature is not None and top_p is not None and model.supports("temperatureXorTopP"):
        raise model_error("`temperature` and `top_p` cannot both be specified for this model. Please use only one.")
    stops = config.get("stopSequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise _constraint(stops, "inferenceConfig.stopSequences", "Member must have length greater than or equal to 1")
    return max_tokens, stops, temperature, top_p


def _thinking_budget(extra: dict[str, Any], model: Model, max_tokens: int, temperature: float | None) -> int:
    thinking = extra.get("thinking") or extra.get("reasoning_config")
    if not thinking or thinking.get("type") == "disabled":
        return 0
    if not model.supports("thinking"):
        raise model_error("thinking: Extra inputs are not permitted")
    if thinking.get("type") not in ("enabled", "adaptive"):
        raise model_error("thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'")
    budget = thinking.get("budget_tokens", 1024 if thinking.get("type") == "adaptive" else None)
    if not isinstance(budget, int) or budget < 1024:
        raise model_error("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if budget >= max_tokens:
        raise model_error(
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
            "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
        )
    if temperature is not None and temperature != 1:
        raise model_error(
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
        )
    return budget


def _check_thinking_history(messages: list[dict[str, Any]]) -> None:
    """With thinking on, the assistant turn that called the tools being answered must keep its signed thinking."""
    for i, message in enumerate(messages):
        for j, block in enumerate(message["content"]):
            reasoning = block.get("reasoningContent", {}).get("reasoningText")
            if reasoning and not valid_signature(reasoning.get("text", ""), reasoning.get("signature", "")):
                raise model_error(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
    turns = _turns(messages)
    if len(turns) < 2 or not any("toolResult" in b for b in turns[-1][1]["content"]):
        return
    index, last = turns[-2]
    turn = last["content"]
    if "reasoningContent" not in turn[0]:
        found = "tool_use" if "toolUse" in turn[0] else "text"
        raise model_error(
            f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            f"`{found}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block "
            "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking "
            "blocks from previous turns. To avoid this requirement, disable `thinking`."
        )


def _json_schema(output_config: Any, model: Model) -> dict[str, Any] | None:
    text_format = (output_config or {}).get("textFormat")
    if not text_format:
        return None
    if not model.supports("structuredOutput"):
        raise ValidationException("This model doesn't support structured outputs with outputConfig.textFormat.")
    # The schema travels as a JSON string inside the JSON request.
    raw = ((text_format.get("structure") or {}).get("jsonSchema") or {}).get("schema")
    try:
        schema = orjson.loads(raw) if isinstance(raw, str) else None
    except orjson.JSONDecodeError:
        schema = None
    if not isinstance(schema, dict):
        raise ValidationException("outputConfig.textFormat.structure.jsonSchema.schema must be a JSON schema object.")
    return schema


def parse_converse(
    body: Any, resolved: Resolved, *, streaming: bool, claude: ClaudeRequest | None = None
) -> Conversation:
    """Validate a Converse / ConverseStream body for the resolved model.

    `claude`: the model's rules already applied to the body this one was converted from (InvokeModel's), so that
    the errors keep that body's wording; otherwise they are applied here, to the Converse body."""
    model = resolved.model
    if "converse" not in model.features:
        raise ValidationException(
            "This action doesn't support the model that you provided. Try again with a supported text or chat model."
        )
    if not isinstance(body, dict):
        raise ValidationException("The request body must be a JSON object.")
    messages = _check_turns(body.get("messages"), model)
    system_blocks = body.get("system") or []
    if system_blocks and not model.supports("system"):
        raise ValidationException("This model doesn't support system messages. Try again without system messages.")
    for i, block in enumerate(system_blocks):
        if "text" in block and not str(block["text"]).strip():
            raise _constraint("", f"system.{i}.member.text", "Member must have length greater than or equal to 1")
        if "cachePoint" in block and not model.supports("cachePoints"):
            raise ValidationException("You invoked an unsupported model or your request did not allow prompt caching.")
    tools, choice, choice_name = _tools(body.get("toolConfig"), model, streaming)
    _check_tool_pairs(messages, body.get("toolConfig") is not None)
    max_tokens, stops, temperature, _ = _check_inference(body.get("inferenceConfig"), model)
    extra = body.get("additionalModelRequestFields") or {}
    if not isinstance(extra, dict):
        raise ValidationException("additionalModelRequestFields must be a JSON object.")
    if model.is_anthropic:
        unknown = sorted(set(extra) - _ANTHROPIC_EXTRA_FIELDS)
        if unknown:
            raise model_error(f"{unknown[0]}: Extra inputs are not permitted")
        top_k = extra.get("top_k")
        if top_k is not None and not (isinstance(top_k, int) and 0 <= top_k <= 500):
            raise model_error("top_k: Input should be less than or equal to 500")
    if model.is_anthropic:
        claude = claude or check_converse_request(model, body)
    else:
        budget = _thinking_budget(extra, model, max_tokens, temperature)
        claude = ClaudeRequest("enabled" if budget else None, bool(budget), budget)
    if claude.explicit_thinking and claude.thinking in ("enabled", "adaptive"):
        _check_thinking_history(messages)
    total, cache_points = input_tokens(system_blocks, messages, tools)
    # Bedrock caches nothing at a checkpoint whose prefix is below the model's minimum, silently (doc §1.5).
    cache_points = tuple(point for point in cache_points if point[1] >= model.claude.min_cache_tokens)
    if total > model.context_window:
        raise ValidationException(
            f"Input is too long for requested model. The request has {total} input tokens; the model accepts "
            f"{model.context_window}."
        )
    return Conversation(
        resolved=resolved,
        messages=messages,
        system=[b["text"] for b in system_blocks if "text" in b],
        max_tokens=max_tokens,
        stop_sequences=stops,
        tools=tools,
        tool_choice=choice,
        tool_choice_name=choice_name,
        thinking_budget=claude.budget,
        thinking=claude.thinking,
        thinking_display=claude.display,
        effort=claude.effort,
        json_schema=_json_schema(body.get("outputConfig"), model) or claude.json_schema,
        cache_points=cache_points,
        input_tokens=total,
    )
