"""An OpenAI chat request → one Converse request: inference settings, tools, JSON modes, thinking, caching."""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from quarry.api._core import (
    ConverseHistory,
    ToolChoiceKind,
    add_cache_points,
    converse_sampling,
    converse_thinking,
    fit_to_model,
    inference_config,
    refuse_converse_forced_tools,
    refuse_converse_prefill,
    tool_config,
    tool_spec,
    top_k_fields,
)
from quarry.api.openai._schemas import ChatCompletionRequest, NamedToolChoice
from quarry.bedrock import ConverseRequest, Document, JsonSchemaDefinition, ResolvedModel
from quarry.errors import InvalidRequest
from quarry.settings import ModelSettings

__all__ = ["ChatPlan", "plan_chat"]

_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_CHOICES: dict[str, ToolChoiceKind] = {"auto": "auto", "required": "any", "none": "none"}


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """The Converse request and how to read its answer back."""

    model: ResolvedModel
    body: ConverseRequest
    json_tool: str | None  # a forced tool whose input is the JSON answer
    json_text: bool  # the answer is JSON asked for in the prompt: checked (and extracted) before it is sent
    dropped: tuple[str, ...] = ()  # parameters the model refuses, left out (named in x-quarry-dropped-params)


def _refuse_unsupported(request: ChatCompletionRequest) -> None:
    if request.n is not None and request.n > 1:
        raise InvalidRequest("n > 1 is not supported: Bedrock returns one choice.", param="n", code="unsupported_value")
    if request.logprobs:
        raise InvalidRequest("logprobs are not available from Bedrock.", param="logprobs", code="unsupported_parameter")
    if request.top_logprobs:
        raise InvalidRequest(
            "top_logprobs is not available from Bedrock.", param="top_logprobs", code="unsupported_parameter"
        )


def _extra_fields(request: ChatCompletionRequest, model: ResolvedModel) -> Document:
    fields: Document = {**(request.extra_body or {}), **(request.additional_model_request_fields or {})}
    if request.model_extra and "anthropic_beta" in request.model_extra:
        fields["anthropic_beta"] = request.model_extra["anthropic_beta"]
    if request.thinking is not None:
        fields["thinking"] = request.thinking
    if request.top_k is not None:
        top_k_fields(model, request.top_k, fields)
    return fields


def _tool_config(
    request: ChatCompletionRequest, model: ResolvedModel, history: ConverseHistory, body: ConverseRequest
) -> None:
    tools = [tool_spec(t.function.name, t.function.description, t.function.parameters) for t in request.tools or ()]
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        tool_config(body, tools, history, "tool", choice.function.name)
        refuse_converse_forced_tools(model.facts, body, f"tool_choice naming `{choice.function.name}`")
    else:
        tool_config(body, tools, history, _CHOICES[choice or "auto"])
        refuse_converse_forced_tools(model.facts, body, f"tool_choice `{choice}`")


def _json_format(
    request: ChatCompletionRequest, model: ResolvedModel, body: ConverseRequest
) -> tuple[str | None, bool]:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None, False
    schema: Document = {"type": "object"}
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
            definition: JsonSchemaDefinition = {
                "schema": orjson.dumps(schema).decode(),
                "name": name,
                "description": description,
            }
            body["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}
            return None, False  # Bedrock's constrained decoding guarantees the JSON
    if model.facts.has("tools"):
        config = body.setdefault("toolConfig", {"tools": []})
        config["tools"].append(tool_spec(name, description, schema))
        config["toolChoice"] = {"any": {}} if len(config["tools"]) > 1 else {"tool": {"name": name}}
        return name, False
    hint = f" It must match this JSON schema: {orjson.dumps(schema).decode()}" if fmt.type == "json_schema" else ""
    text = "Reply with one JSON object and nothing else: no prose, no code fence." + hint
    body.setdefault("system", []).append({"text": text})
    return None, True


def plan_chat(
    request: ChatCompletionRequest, model: ResolvedModel, history: ConverseHistory, settings: ModelSettings
) -> ChatPlan:
    """The Converse request for a chat completion; raises InvalidRequest naming the parameter at fault."""
    _refuse_unsupported(request)
    stop = [request.stop] if isinstance(request.stop, str) else request.stop
    body: ConverseRequest = {
        "messages": history.messages,
        "system": list(history.system),
        "inferenceConfig": inference_config(
            model,
            max_tokens=request.max_completion_tokens or request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=stop,
        ),
        "additionalModelRequestFields": _extra_fields(request, model),
    }
    refuse_converse_prefill(model.facts, body)
    dropped = converse_sampling(model, body, strict=settings.strict_parameters)
    _tool_config(request, model, history, body)
    json_tool, json_text = _json_format(request, model, body)
    budgets = {str(k): v for k, v in settings.reasoning_budgets.items()}
    converse_thinking(model, body, level=request.reasoning_effort, budgets=budgets)
    add_cache_points(model, body, list(settings.prompt_cache))
    fit_to_model(model, body)
    return ChatPlan(model=model, body=body, json_tool=json_tool, json_text=json_text, dropped=tuple(dropped))
