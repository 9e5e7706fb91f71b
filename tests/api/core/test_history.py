"""What every dialect's history becomes before Bedrock sees it."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api._core import ConverseHistory, normalise

USE = {"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}
RESULT = {"toolResult": {"toolUseId": "t1", "content": [{"text": "ok"}]}}


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        pytest.param(
            [("user", [{"text": "a"}]), ("user", [{"text": "b"}])],
            [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}],
            id="same-role turns merge",
        ),
        pytest.param(
            [("assistant", [{"text": "hi"}])],
            [
                {"role": "user", "content": [{"text": "(start of conversation)"}]},
                {"role": "assistant", "content": [{"text": "hi"}]},
            ],
            id="a user turn opens the conversation",
        ),
        pytest.param(
            [("user", [{"text": "q"}]), ("assistant", [USE])],
            [
                {"role": "user", "content": [{"text": "q"}]},
                {"role": "assistant", "content": [USE]},
                {
                    "role": "user",
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": "t1",
                                "content": [{"text": "(no result was recorded for this tool call)"}],
                            }
                        }
                    ],
                },
            ],
            id="an unanswered call gets a result",
        ),
        pytest.param(
            [("user", [RESULT])],
            [{"role": "user", "content": [{"text": "Result of tool call t1: ok"}]}],
            id="a result with no call becomes text",
        ),
        pytest.param(
            [("user", [{"text": "q"}]), ("assistant", [USE]), ("user", [{"text": "and"}, RESULT])],
            [
                {"role": "user", "content": [{"text": "q"}]},
                {"role": "assistant", "content": [USE]},
                {"role": "user", "content": [RESULT, {"text": "and"}]},
            ],
            id="tool results come first in their turn",
        ),
        pytest.param(
            [("user", [{"text": "q"}]), ("assistant", [{"text": "Sure:  \n"}])],
            [{"role": "user", "content": [{"text": "q"}]}, {"role": "assistant", "content": [{"text": "Sure:"}]}],
            id="a prefill loses its trailing whitespace",
        ),
        pytest.param(
            [("user", [{"text": "q"}]), ("assistant", [{"text": "  "}])],
            [{"role": "user", "content": [{"text": "q"}]}],
            id="a blank prefill goes",
        ),
    ],
)
def test_normalise(turns: list[Any], expected: list[Any]) -> None:
    assert normalise(turns) == expected


def test_tool_specs_describe_the_tools_a_history_used() -> None:
    history = ConverseHistory(messages=normalise([("user", [{"text": "q"}]), ("assistant", [USE])]))
    assert history.uses_tools()
    assert history.tool_specs() == [
        {"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object", "properties": {}}}}}
    ]


NOTE = {"text": "note"}


@pytest.mark.parametrize(
    ("turns", "roles"),
    [
        pytest.param(
            [("user", [{"text": "a"}]), ("system", [NOTE]), ("assistant", [{"text": "b"}]), ("user", [{"text": "c"}])],
            ["user", "system", "assistant", "user"],
            id="a system message stays where it was",
        ),
        pytest.param(
            [("user", [{"text": "a"}]), ("assistant", [USE]), ("system", [NOTE]), ("user", [RESULT])],
            ["user", "assistant", "user", "system"],
            id="never between a tool call and its result",
        ),
        pytest.param(
            [("user", [{"text": "a"}]), ("system", [NOTE]), ("user", [{"text": "b"}])],
            ["user", "system"],
            id="after the user turn it followed; the user turns still merge",
        ),
        pytest.param(
            [("user", [{"text": "a"}]), ("system", [NOTE]), ("system", [NOTE])],
            ["user", "system"],
            id="consecutive system messages are one",
        ),
    ],
)
def test_system_messages_inside_the_conversation(turns: list[Any], roles: list[str]) -> None:
    messages = normalise(turns)
    assert [m["role"] for m in messages] == roles
    assert sum(b == NOTE for m in messages for b in m["content"]) == sum(r == "system" for r, _ in turns)
