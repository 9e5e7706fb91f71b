"""An OpenAI chat request → one Converse request: inference settings, tools, JSON modes, thinking, caching."""

from __future__ import annotations

from dataclasses import dataclass

from quarry.api._core import (
    OPENAI_SERVICE_TIERS,
    ConverseHistory,
    JsonOutput,
    ToolChoiceKind,
    add_cache_points,
    bedrock_tier,
    converse_sampling,
    converse_thinking,
    fit_to_model,
    inference_config,
    json_output,
    refuse_converse_forced_tools,
    refuse_converse_prefill,
    set_service_tier,
    tool_config,
    tool_spec,
    top_k_fields,
)
from quarry.api.openai._schemas import ChatCompletionRequest, NamedToolChoice
from quarry.bedrock import ConverseRequest, Document, ResolvedModel
from quarry.errors import InvalidRequest
from quarry.settings import ModelSettings

__all__ = ["ChatPlan", "plan_chat"]

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
    if not request.tools and request.tool_choice is None and not history.uses_tools():
        return  # most chats: no toolConfig to set, no forced choice to refuse
    tools = [tool_spec(t.function.name, t.function.description, t.function.parameters) for t in request.tools or ()]
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        tool_config(body, tools, history, "tool", choice.function.name)
        refuse_converse_forced_tools(model.facts, body, f"tool_choice naming `{choice.function.name}`")
    else:
        tool_config(body, tools, history, _CHOICES[choice or "auto"])
        refuse_converse_forced_tools(model.facts, body, f"tool_choice `{choice}`")


def _json_format(request: ChatCompletionRequest, model: ResolvedModel, body: ConverseRequest) -> JsonOutput:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None, False
    spec = fmt.json_schema
    return json_output(
        body,
        model,
        fmt.type,
        schema=spec.schema_ if spec else None,
        name=spec.name if spec else None,
        description=spec.description if spec else None,
        schema_field="response_format.json_schema.schema",
        param="response_format",
    )


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
    set_service_tier(body, bedrock_tier(OPENAI_SERVICE_TIERS[request.service_tier or "auto"], settings, model))
    fit_to_model(model, body)
    return ChatPlan(model=model, body=body, json_tool=json_tool, json_text=json_text, dropped=tuple(dropped))
