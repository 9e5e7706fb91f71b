"""The request rules of the Claude models of 2026: sampling at the defaults only, no prefill, no forced tool."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api._core import (
    PREFILL_REFUSED,
    converse_sampling,
    refuse_converse_forced_tools,
    refuse_converse_prefill,
    strip_sampling,
)
from quarry.bedrock import ConverseRequest, facts_for
from quarry.errors import InvalidRequest
from tests.api.core.conftest import HAIKU_55, OPUS_46, OPUS_48, OPUS_55, SONNET_45, SONNET_55, model

USER = {"role": "user", "content": [{"text": "q"}]}
ASSISTANT = {"role": "assistant", "content": [{"text": "The answer is"}]}
SYSTEM = {"role": "system", "content": [{"text": "be brief"}]}


def _request(**parts: Any) -> ConverseRequest:
    request: Any = {"messages": [USER], **parts}
    return request  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("model_id", "config", "fields", "dropped", "left"),
    [
        pytest.param(
            OPUS_55,
            {"maxTokens": 10, "temperature": 0.2, "topP": 0.9},
            {"top_k": 5},
            ["temperature", "top_p", "top_k"],
            {"maxTokens": 10},
            id="every sampling parameter dropped and named",
        ),
        pytest.param(
            OPUS_48, {"temperature": 1.0}, {}, ["temperature"], {}, id="a default value goes too (it changes nothing)"
        ),
        pytest.param(
            SONNET_45, {"temperature": 0.2}, {"top_k": 5}, [], {"temperature": 0.2}, id="older models keep them"
        ),
        pytest.param(OPUS_46, {"temperature": 0.2}, {}, [], {"temperature": 0.2}, id="Opus 4.6 still samples"),
    ],
)
def test_sampling_dropped(
    model_id: str, config: dict[str, Any], fields: dict[str, Any], dropped: list[str], left: dict[str, Any]
) -> None:
    request = _request(inferenceConfig=config, additionalModelRequestFields=fields)
    assert converse_sampling(model(model_id), request, strict=False) == dropped
    assert request["inferenceConfig"] == left
    assert ("top_k" in request["additionalModelRequestFields"]) is ("top_k" in fields and not dropped)


def test_strict_sampling_names_every_changed_parameter() -> None:
    request = _request(inferenceConfig={"temperature": 0.2, "topP": 1.0}, additionalModelRequestFields={"top_k": 3})
    with pytest.raises(InvalidRequest) as caught:
        converse_sampling(model(SONNET_55), request, strict=True)
    assert "`temperature`, `top_k`" in caught.value.message  # top_p at its default is no change
    assert caught.value.param == "temperature"


def test_strict_sampling_lets_defaults_through() -> None:
    body: dict[str, object] = {"model": "m", "temperature": 1.0, "top_p": None}
    assert strip_sampling(facts_for(HAIKU_55), body, strict=True) == ["temperature"]
    assert body == {"model": "m", "top_p": None}


@pytest.mark.parametrize(
    ("model_id", "messages", "refused"),
    [
        (OPUS_55, [USER, ASSISTANT], True),
        (OPUS_46, [USER, ASSISTANT], True),  # prefill is refused from Claude 4.6 on
        (SONNET_45, [USER, ASSISTANT], False),
        (OPUS_55, [USER], False),
        (OPUS_55, [USER, ASSISTANT, SYSTEM], True),  # a system message is not a turn
    ],
)
def test_prefill(model_id: str, messages: list[Any], refused: bool) -> None:
    request = _request(messages=messages)
    if refused:
        with pytest.raises(InvalidRequest, match="prefill") as caught:
            refuse_converse_prefill(facts_for(model_id), request)
        assert caught.value.message == PREFILL_REFUSED
        assert caught.value.param == "messages"
    else:
        refuse_converse_prefill(facts_for(model_id), request)


TOOLS = [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}]


@pytest.mark.parametrize(
    ("model_id", "choice", "refused"),
    [
        (OPUS_55, {"any": {}}, True),
        (SONNET_55, {"tool": {"name": "f"}}, True),
        (OPUS_55, {"auto": {}}, False),
        (OPUS_55, None, False),
        (HAIKU_55, {"any": {}}, False),  # Haiku 5.5 takes a forced tool
        (OPUS_48, {"tool": {"name": "f"}}, False),
    ],
)
def test_forced_tool_choice(model_id: str, choice: dict[str, Any] | None, refused: bool) -> None:
    config: dict[str, Any] = {"tools": TOOLS} | ({"toolChoice": choice} if choice else {})
    request = _request(toolConfig=config)
    if refused:
        with pytest.raises(InvalidRequest, match=r"forced tool use \(tool_choice `required`\)") as caught:
            refuse_converse_forced_tools(facts_for(model_id), request, "tool_choice `required`")
        assert caught.value.param == "tool_choice"
    else:
        refuse_converse_forced_tools(facts_for(model_id), request, "tool_choice `required`")
