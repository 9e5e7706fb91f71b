"""Tools and tool choice on Converse, for every dialect."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api._core import NO_TOOLS_NOTE, ConverseHistory, normalise, tool_config, tool_spec
from quarry.bedrock import ConverseRequest
from quarry.errors import InvalidRequest

F = tool_spec("f", "does f", {"type": "object"})
G = tool_spec("g", None, None)
PLAIN = ConverseHistory(messages=normalise([("user", [{"text": "q"}])]))
WITH_TOOLS = ConverseHistory(
    messages=normalise(
        [("user", [{"text": "q"}]), ("assistant", [{"toolUse": {"toolUseId": "t", "name": "h", "input": {}}}])]
    )
)
H = {"toolSpec": {"name": "h", "inputSchema": {"json": {"type": "object", "properties": {}}}}}


def test_tool_spec() -> None:
    assert F == {"toolSpec": {"name": "f", "description": "does f", "inputSchema": {"json": {"type": "object"}}}}
    assert G == {"toolSpec": {"name": "g", "inputSchema": {"json": {"type": "object", "properties": {}}}}}


@pytest.mark.parametrize(
    ("tools", "history", "choice", "name", "config", "system"),
    [
        pytest.param([F], PLAIN, None, None, {"tools": [F]}, None, id="auto by default"),
        pytest.param([F], PLAIN, "auto", None, {"tools": [F]}, None, id="auto"),
        pytest.param([F, G], PLAIN, "any", None, {"tools": [F, G], "toolChoice": {"any": {}}}, None, id="any"),
        pytest.param(
            [F, G], PLAIN, "tool", "g", {"tools": [F, G], "toolChoice": {"tool": {"name": "g"}}}, None, id="named"
        ),
        pytest.param([F], PLAIN, "none", None, None, None, id="none drops the tools"),
        pytest.param(
            [F], WITH_TOOLS, "none", None, {"tools": [F]}, [{"text": NO_TOOLS_NOTE}], id="none over tool history"
        ),
        pytest.param(
            [], WITH_TOOLS, "none", None, {"tools": [H]}, [{"text": NO_TOOLS_NOTE}], id="none, tools only in history"
        ),
        pytest.param([], WITH_TOOLS, "any", None, {"tools": [H]}, None, id="history's tools, no forced choice"),
        pytest.param([], PLAIN, "any", None, None, None, id="no tools at all"),
    ],
)
def test_tool_config(
    tools: list[Any], history: ConverseHistory, choice: Any, name: str | None, config: Any, system: Any
) -> None:
    request: ConverseRequest = {"messages": history.messages}
    tool_config(request, list(tools), history, choice, name)
    assert request.get("toolConfig") == config
    assert request.get("system") == system


def test_a_named_choice_must_name_a_tool() -> None:
    with pytest.raises(InvalidRequest, match="`nope`"):
        tool_config({"messages": PLAIN.messages}, [F], PLAIN, "tool", "nope")
