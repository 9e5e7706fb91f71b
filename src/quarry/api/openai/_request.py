"""An OpenAI chat request → one Converse request: inference settings, tools, JSON modes, thinking, caching."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from quarry.api._history import CACHE_POINT, ConverseHistory, fit_to_model, reasoning_fields, top_k_fields
from quarry.api.openai._schemas import ChatCompletionRequest, NamedToolChoice
from quarry.bedrock import ResolvedModel
from quarry.errors import InvalidRequest
from quarry.settings import ModelSettings

__all__ = ["ChatPlan", "plan_chat"]

_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_NO_TOOLS_NOTE = "Answer directly in text. Do not call any tool."


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """The Converse request and how to read its answer back."""

    model: ResolvedModel
    body: dict[str, Any]
    json_tool: str | None  # a forced tool whose input is the JSON answer
    json_text: bool  # the answer is JSON asked for in the prompt: checked (and extracted) before it is sent


def _refuse_unsupported(request: ChatCompletionRequest) -> None:
    if request.n is not None and request.n > 1:
        raise InvalidRequest("n > 1 is not supported: Bedrock returns one choice.", param="n", code="unsupported_value")
    if request.logprobs:
        raise InvalidRequest("logprobs are not available from Bedrock.", param="logprobs", code="unsupported_parameter")
    if request.top_logprobs:
        raise InvalidRequest(
            "top_logprobs is not available from Bedrock.", param="top_logprobs", code="unsupported_parameter"
        )


def _inference(request: ChatCompletionRequest, model: ResolvedModel) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = request.max_completion_tokens or request.max_tokens or model.facts.max_output_tokens
    if max_tokens:
        config["maxTokens"] = max_tokens
    if request.temperature is not None:
        config["temperature"] = min(request.temperature, 1.0)  # OpenAI goes to 2, Bedrock models stop at 1
    if request.top_p is not None and not ("temperature" in config and model.facts.temperature_excludes_top_p):
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = [request.stop] if isinstance(request.stop, str) else list(request.stop)
    return config


def _extra_fields(request: ChatCompletionRequest, model: ResolvedModel) -> dict[str, Any]:
    fields: dict[str, Any] = {**(request.extra_body or {}), **(request.additional_model_request_fields or {})}
    if request.model_extra and "anthropic_beta" in request.model_extra:
        fields["anthropic_beta"] = request.model_extra["anthropic_beta"]
    if request.thinking is not None:
        fields["thinking"] = request.thinking
    if request.top_k is not None:
        top_k_fields(model, request.top_k, fields)
    return fields


def _tool_config(request: ChatCompletionRequest, history: ConverseHistory, body: dict[str, Any]) -> None:
    tools = [
        {
            "toolSpec": {
                "name": tool.function.name,
                **({"description": tool.function.description} if tool.function.description else {}),
                "inputSchema": {"json": tool.function.parameters or _EMPTY_SCHEMA},
            }
        }
        for tool in request.tools or ()
    ]
    choice = request.tool_choice
    if choice == "none" and tools:
        if not history.uses_tools():
            return
        body["system"].append({"text": _NO_TOOLS_NOTE})
        choice = None
    if not tools and history.uses_tools():
        tools = history.tool_specs()
        choice = None
    if not tools:
        return
    config: dict[str, Any] = {"tools": tools}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, NamedToolChoice):
        if choice.function.name not in {t["toolSpec"]["name"] for t in tools}:
            raise InvalidRequest(
                f"tool_choice names `{choice.function.name}`, which is not among the tools.", param="tool_choice"
            )
        config["toolChoice"] = {"tool": {"name": choice.function.name}}
    body["toolConfig"] = config


def _json_format(request: ChatCompletionRequest, model: ResolvedModel, body: dict[str, Any]) -> tuple[str | None, bool]:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None, False
    schema: dict[str, Any] = {"type": "object"}
    name, description = "json_response", "Give the answer as this tool's input."
    if fmt.type == "json_schema":
        if fmt.json_schema is None or not fmt.json_schema.schema_:
            raise InvalidRequest(
                "response_format.json_schema.schema is required for json_schema.", param="response_format"
            )
        schema = fmt.json_schema.schema_
        name = _TOOL_NAME.sub("_", fmt.json_schema.name)[:64] or name
        description = fmt.json_schema.description or description
        if model.facts.structured_output:
            structure = {"schema": orjson.dumps(schema).decode(), "name": name, "description": description}
            body["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": structure}}}
            return None, False  # Bedrock's constrained decoding guarantees the JSON
    if model.facts.has("tools"):
        config = body.setdefault("toolConfig", {"tools": []})
        config["tools"].append(
            {"toolSpec": {"name": name, "description": description, "inputSchema": {"json": schema}}}
        )
        config["toolChoice"] = {"any": {}} if len(config["tools"]) > 1 else {"tool": {"name": name}}
        return name, False
    hint = f" It must match this JSON schema: {orjson.dumps(schema).decode()}" if fmt.type == "json_schema" else ""
    body["system"].append({"text": "Reply with one JSON object and nothing else: no prose, no code fence." + hint})
    return None, True


def _thinking(
    request: ChatCompletionRequest, model: ResolvedModel, body: dict[str, Any], budgets: dict[str, int]
) -> None:
    fields = body["additionalModelRequestFields"]
    effort = request.reasoning_effort
    if not model.facts.has("thinking") or (effort in (None, "none") and "thinking" not in fields):
        return
    if not model.base_id.startswith("anthropic."):
        if effort and effort != "none":
            reasoning_fields(model, "low" if effort == "minimal" else effort, fields)
        return
    thinking = fields.get("thinking") or {"type": "enabled", "budget_tokens": budgets[effort or "medium"]}
    fields["thinking"] = thinking
    if thinking.get("type") == "disabled" or not _thinking_allowed(body):
        fields.pop("thinking")
        return
    config = body["inferenceConfig"]
    budget = int(thinking.get("budget_tokens") or 1024)
    ceiling = model.facts.max_output_tokens or budget + config.get("maxTokens", 4096)
    if config.get("maxTokens", 0) <= budget:
        # max_tokens below the budget counts the answer alone: thinking comes on top, within the model's limit.
        config["maxTokens"] = min(budget + config.get("maxTokens", 4096), ceiling)
    if config["maxTokens"] <= budget:
        thinking["budget_tokens"] = budget = config["maxTokens"] - 1
    if budget < 1024:
        fields.pop("thinking")
        return
    # Claude thinks only at its own temperature and sampling.
    for key in ("temperature", "topP"):
        config.pop(key, None)
    fields.pop("top_k", None)


def _thinking_allowed(body: dict[str, Any]) -> bool:
    """Thinking needs free tool choice, and signed thinking kept on the assistant turn that called the tools."""
    if "toolChoice" in body.get("toolConfig", {}):
        return False
    messages = body["messages"]
    if len(messages) < 2 or not any("toolResult" in block for block in messages[-1]["content"]):
        return True
    return "reasoningContent" in messages[-2]["content"][0]


def _cache_points(model: ResolvedModel, body: dict[str, Any], where: list[str]) -> None:
    if not model.facts.caches_prompts:
        return
    if "system" in where and body["system"] and "cachePoint" not in body["system"][-1]:
        body["system"].append(CACHE_POINT)
    tools = body.get("toolConfig", {}).get("tools")
    if "tools" in where and tools and "cachePoint" not in tools[-1]:
        tools.append(CACHE_POINT)
    users = [m for m in body["messages"] if m["role"] == "user"]
    if "messages" in where and users and "cachePoint" not in users[-1]["content"][-1]:
        users[-1]["content"].append(CACHE_POINT)


def plan_chat(
    request: ChatCompletionRequest, model: ResolvedModel, history: ConverseHistory, settings: ModelSettings
) -> ChatPlan:
    """The Converse request for a chat completion; raises InvalidRequest naming the parameter at fault."""
    _refuse_unsupported(request)
    body: dict[str, Any] = {
        "messages": history.messages,
        "system": list(history.system),
        "inferenceConfig": _inference(request, model),
        "additionalModelRequestFields": _extra_fields(request, model),
    }
    _tool_config(request, history, body)
    json_tool, json_text = _json_format(request, model, body)
    _thinking(request, model, body, {str(k): v for k, v in settings.reasoning_budgets.items()})
    _cache_points(model, body, list(settings.prompt_cache))
    fit_to_model(model, body)
    for key in ("system", "inferenceConfig", "additionalModelRequestFields"):
        if not body[key]:
            del body[key]
    return ChatPlan(model=model, body=body, json_tool=json_tool, json_text=json_text)
