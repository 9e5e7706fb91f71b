"""Tools and tool choice on a Converse request, whichever dialect declared them."""

from __future__ import annotations

from typing import Literal

from quarry.api._core._history import ConverseHistory, empty_schema
from quarry.bedrock import ConverseRequest, Document, Tool, ToolConfiguration
from quarry.errors import InvalidRequest

__all__ = ["NO_TOOLS_NOTE", "ToolChoiceKind", "tool_config", "tool_spec"]

ToolChoiceKind = Literal["auto", "any", "tool", "none"]
NO_TOOLS_NOTE = "Answer directly in text. Do not call any tool."


def tool_spec(name: str, description: str | None, schema: Document | None) -> Tool:
    """A Converse tool; a tool without parameters gets the empty object schema Bedrock requires."""
    spec: Tool = {"toolSpec": {"name": name, "inputSchema": {"json": schema or empty_schema()}}}
    if description:
        spec["toolSpec"]["description"] = description
    return spec


def tool_config(
    request: ConverseRequest,
    tools: list[Tool],
    history: ConverseHistory,
    choice: ToolChoiceKind | None,
    name: str | None = None,
) -> None:
    """Set `toolConfig` (and, for choice `none` over a history with tool calls, a note in the system prompt).

    Converse has no "none" choice, and refuses tool blocks in a history without a toolConfig: so `none` drops the
    tools when the history has none, and otherwise keeps them with an instruction not to call them."""
    if choice == "none":
        if not history.uses_tools():
            return
        request.setdefault("system", []).append({"text": NO_TOOLS_NOTE})
        choice = None
    if not tools and history.uses_tools():
        tools, choice = history.tool_specs(), None
    if not tools:
        return
    config: ToolConfiguration = {"tools": tools}
    if choice == "any":
        config["toolChoice"] = {"any": {}}
    elif choice == "tool":
        if name not in {t["toolSpec"]["name"] for t in tools if "toolSpec" in t}:
            raise InvalidRequest(f"tool_choice names `{name}`, which is not among the tools.", param="tool_choice")
        config["toolChoice"] = {"tool": {"name": name}}
    request["toolConfig"] = config
