"""Forced tool use: Opus 5.5, Sonnet 5.5 and Fable 5.1 refuse `tool_choice` `any` or a named tool (Anthropic's
what's-new pages for the 5.5 models; docs/bedrock-models-2026.md §1.4).

Refused before the call rather than quietly turned into `auto`: a caller who forces a tool (OpenAI's `required` or
a named function; LangChain's `bind_tools(tool_choice=…)`, the Agents SDK's `tool_choice="required"`) parses the
answer as a tool call, and a model free to answer in text would break it further along, with no word of why."""

from __future__ import annotations

from quarry.bedrock import ConverseRequest, ModelFacts
from quarry.errors import InvalidRequest

__all__ = ["refuse_converse_forced_tools", "refuse_forced_tools"]


def refuse_forced_tools(facts: ModelFacts, asked: str | None, *, param: str = "tool_choice") -> None:
    """An InvalidRequest naming the rule when a tool is forced (`asked`: how the caller's dialect said it) on a
    model that refuses it; `asked` None means no tool was forced."""
    if asked is not None and facts.refuses_forced_tool_choice:
        raise InvalidRequest(
            f"This model does not support forced tool use ({asked}); use tool_choice `auto` and ask for the tool "
            "in the prompt.",
            param=param,
            code="unsupported_value",
        )


def refuse_converse_forced_tools(facts: ModelFacts, request: ConverseRequest, asked: str) -> None:
    """`refuse_forced_tools` for a Converse request's toolChoice (`any` or `tool`)."""
    choice = request.get("toolConfig", {}).get("toolChoice", {})
    refuse_forced_tools(facts, asked if "any" in choice or "tool" in choice else None)
