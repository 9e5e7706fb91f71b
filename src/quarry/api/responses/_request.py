"""A Responses request → one Converse request: tools (function and namespace; built-in tools Quarry cannot run left
out or refused), tool choice, `text.format`, `reasoning.effort`, sampling, output limit and cache points."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quarry.api._core import (
    ConverseHistory,
    JsonOutput,
    ToolChoiceKind,
    add_cache_points,
    converse_thinking,
    fit_to_model,
    inference_config,
    json_output,
    refuse_converse_forced_tools,
    thinking_mode,
    thinking_on,
    tool_config,
    tool_spec,
)
from quarry.api.responses._input import tool_name
from quarry.api.responses._schemas import InputTokensRequest, ResponsesRequest
from quarry.bedrock import ConverseRequest, Document, ResolvedModel, Tool
from quarry.errors import InvalidRequest
from quarry.settings import ModelSettings

__all__ = ["ResponsePlan", "plan_response", "unrunnable_tools"]

_CHOICES: dict[str, ToolChoiceKind] = {"auto": "auto", "required": "any", "none": "none"}
# OpenAI's levels beyond the chat dialect's: `xhigh` thinks as `high` does (the most the budgets name).
_LEVELS = {"xhigh": "high"}
ENCRYPTED = "reasoning.encrypted_content"
# The tools Quarry runs: functions (the caller's), and file_search, which Quarry runs itself (_file_search).
_RUN = ("function", "namespace", "file_search")


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """The Converse request and how to read its answer back."""

    model: ResolvedModel
    body: ConverseRequest
    json_tool: str | None  # a forced tool whose input is the JSON answer
    json_text: bool  # JSON asked for in the prompt: checked (and extracted) before it is sent
    functions: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # model's tool name → (namespace, name)
    summary: bool = False  # reasoning.summary asked: thinking is given as the reasoning item's summary


def _function(spec: dict[str, Any], where: str) -> tuple[str, str | None, Document | None]:
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"Invalid value for `{where}.name`: must be a non-empty string.", param=f"{where}.name")
    description = spec.get("description")
    parameters = spec.get("parameters")
    if description is not None and not isinstance(description, str):
        raise InvalidRequest(
            f"Invalid value for `{where}.description`: must be a string.", param=f"{where}.description"
        )
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidRequest(f"Invalid value for `{where}.parameters`: must be an object.", param=f"{where}.parameters")
    return name, description, parameters


def unrunnable_tools(tools: list[dict[str, Any]] | None) -> list[str]:
    """The built-in tools among `tools` (`web_search`, `code_interpreter`, …): Quarry runs none of them."""
    return [str(t.get("type")) for t in tools or () if t.get("type") not in _RUN]


def _tools(request: InputTokensRequest, strict: bool) -> tuple[list[Tool], dict[str, tuple[str | None, str]]]:
    specs: list[Tool] = []
    names: dict[str, tuple[str | None, str]] = {}
    for i, tool in enumerate(request.tools or ()):
        where = f"tools[{i}]"
        kind = tool.get("type")
        if kind == "function":
            name, description, parameters = _function(tool, where)
            specs.append(tool_spec(name, description, parameters))
            names[name] = (None, name)
        elif kind == "namespace":
            namespace = tool.get("name")
            members = tool.get("tools")
            if not isinstance(namespace, str) or not isinstance(members, list):
                raise InvalidRequest(f"`{where}` needs a `name` and a `tools` array.", param=where)
            for n, member in enumerate(members):
                if not isinstance(member, dict) or member.get("type") != "function":
                    continue  # custom tools inside a namespace are not Converse tools either
                name, description, parameters = _function(member, f"{where}.tools[{n}]")
                flat = tool_name(name, namespace)
                specs.append(tool_spec(flat, description, parameters))
                names[flat] = (namespace, name)
        elif strict and kind not in _RUN:
            raise InvalidRequest(
                f"`{where}`: Quarry cannot run the built-in tool `{kind}`; only function and namespace tools reach "
                "the model (responses.strict_tools is on).",
                param=f"{where}.type",
                code="unsupported_tool",
            )
    return specs, names


def _tool_choice(
    request: InputTokensRequest,
    model: ResolvedModel,
    tools: list[Tool],
    history: ConverseHistory,
    body: ConverseRequest,
) -> None:
    """The tool choice in the body; a forced one on a model that refuses it (Sonnet 5.5 …) is a 400 saying so, as on
    chat completions, rather than the upstream's error about thinking."""
    choice = request.tool_choice
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "function" and isinstance(choice.get("name"), str):
            if choice["name"] not in {t["toolSpec"]["name"] for t in tools if "toolSpec" in t}:
                raise InvalidRequest(
                    f"tool_choice names `{choice['name']}`, which is not among the tools.", param="tool_choice"
                )
            tool_config(body, tools, history, "tool", choice["name"])
            refuse_converse_forced_tools(model.facts, body, f"tool_choice naming `{choice['name']}`")
            return
        if kind == "allowed_tools":
            allowed = {t.get("name") for t in choice.get("tools") or () if isinstance(t, dict)}
            tools = [t for t in tools if "toolSpec" in t and t["toolSpec"]["name"] in allowed]
            tool_config(body, tools, history, "any" if choice.get("mode") == "required" else "auto")
            refuse_converse_forced_tools(model.facts, body, "tool_choice `allowed_tools` in mode `required`")
            return
        raise InvalidRequest(
            f"tool_choice of type `{kind}` names a tool Quarry cannot run; use auto, none, required or a function.",
            param="tool_choice",
        )
    tool_config(body, tools, history, _CHOICES[choice or "auto"])
    refuse_converse_forced_tools(model.facts, body, f"tool_choice `{choice}`")


def _json_format(request: InputTokensRequest, model: ResolvedModel, body: ConverseRequest) -> JsonOutput:
    # Responses' text.format, as chat's response_format
    # (https://platform.openai.com/docs/guides/structured-outputs?api-mode=responses).
    fmt = request.text.format if request.text else None
    if fmt is None or fmt.type == "text":
        return None, False
    return json_output(
        body, model, fmt.type, schema=fmt.schema_, name=fmt.name, description=fmt.description,
        schema_field="text.format.schema",
    )  # fmt: skip


def _summarized(model: ResolvedModel, body: ConverseRequest) -> None:
    """A summary asked for: adaptive thinking shown as text. Opus 4.7 and later omit it unless `thinking.display` is
    `summarized` (docs/bedrock-models-2026.md §1.3), which would leave Codex's and the AI SDK's summaries empty."""
    if thinking_mode(model) != "adaptive":
        return  # older Claude returns its thinking as text, and may not take the field
    fields = body.setdefault("additionalModelRequestFields", {})
    thinking = fields.get("thinking")
    if thinking is None and model.facts.thinks_by_default:
        thinking = fields["thinking"] = {"type": "adaptive"}  # the model's default, said out loud
    if isinstance(thinking, dict) and thinking_on(thinking):
        thinking["display"] = "summarized"


def plan_response(
    request: InputTokensRequest,
    model: ResolvedModel,
    history: ConverseHistory,
    settings: ModelSettings,
    *,
    strict_tools: bool = False,
) -> ResponsePlan:
    """The Converse request for a response; raises InvalidRequest naming the parameter at fault."""
    full = request if isinstance(request, ResponsesRequest) else None
    body: ConverseRequest = {
        "messages": history.messages,
        "system": list(history.system),
        "inferenceConfig": inference_config(
            model,
            max_tokens=full.max_output_tokens if full else None,
            temperature=full.temperature if full else None,
            top_p=full.top_p if full else None,
        ),
        "additionalModelRequestFields": {},
    }
    tools, functions = _tools(request, strict_tools)
    _tool_choice(request, model, tools, history, body)
    json_tool, json_text = _json_format(request, model, body)
    reasoning = request.reasoning
    effort = reasoning.effort if reasoning else None
    budgets = {str(k): v for k, v in settings.reasoning_budgets.items()}
    converse_thinking(model, body, level=_LEVELS.get(effort or "", effort), budgets=budgets)
    # A client naming a prompt cache key wants its prefix cached: cache points where the model takes them.
    cache = ["system", "tools", "messages"] if full and full.prompt_cache_key else list(settings.prompt_cache)
    add_cache_points(model, body, cache)
    fit_to_model(model, body)
    summary = bool(reasoning and (reasoning.summary or reasoning.generate_summary))
    if summary:
        _summarized(model, body)
    return ResponsePlan(model, body, json_tool, json_text, functions, summary)
