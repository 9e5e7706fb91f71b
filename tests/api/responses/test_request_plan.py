"""How a Responses request becomes a Converse request where the emulator cannot see the difference: built-in tools
refused under strict_tools, namespace tools flattened, thinking levels, cache points for a prompt_cache_key, and
sealed reasoning bound to the key it was issued to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quarry.api._core import ConverseHistory
from quarry.api.responses._request import plan_response, unrunnable_tools
from quarry.api.responses._schemas import ResponsesRequest
from quarry.api.responses._sealing import KEY_FILE, Sealer
from quarry.bedrock import ResolvedModel, facts_for
from quarry.errors import InvalidRequest
from quarry.settings import ModelSettings, Settings

SONNET_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
CACHE = {"cachePoint": {"type": "default"}}
FUNCTION = {"type": "function", "name": "f", "parameters": {"type": "object"}}


def _plan(strict: bool = False, **request: Any) -> Any:
    body = ResponsesRequest.model_validate({"model": SONNET_37, "input": "x", **request})
    history = ConverseHistory(system=[{"text": "rules"}], messages=[{"role": "user", "content": [{"text": "q"}]}])
    model = ResolvedModel(requested=SONNET_37, id=SONNET_37, facts=facts_for(SONNET_37))
    return plan_response(body, model, history, ModelSettings(), strict_tools=strict)


def test_built_in_tools_are_left_out_or_refused_when_strict() -> None:
    tools = [{"type": "web_search"}, FUNCTION]
    assert unrunnable_tools(tools) == ["web_search"]
    names = [t["toolSpec"]["name"] for t in _plan(tools=tools).body["toolConfig"]["tools"]]
    assert names == ["f"]
    with pytest.raises(InvalidRequest) as caught:
        _plan(strict=True, tools=tools)
    assert caught.value.param == "tools[0].type"
    assert "web_search" in caught.value.message


def test_namespace_tools_are_flattened() -> None:
    namespace = {"type": "namespace", "name": "ns", "description": "d", "tools": [FUNCTION]}
    plan = _plan(tools=[namespace])
    assert [t["toolSpec"]["name"] for t in plan.body["toolConfig"]["tools"]] == ["ns__f"]
    assert plan.functions == {"ns__f": ("ns", "f")}


@pytest.mark.parametrize(("effort", "thinks"), [("none", False), ("low", True), ("xhigh", True), (None, False)])
def test_reasoning_effort_is_the_chat_dialects_mapping(effort: str | None, thinks: bool) -> None:
    fields = _plan(reasoning={"effort": effort}).body.get("additionalModelRequestFields", {})
    assert ("thinking" in fields) is thinks


def test_a_prompt_cache_key_adds_cache_points() -> None:
    body = _plan(prompt_cache_key="codex-session", tools=[FUNCTION]).body
    assert body["system"][-1] == CACHE
    assert body["toolConfig"]["tools"][-1] == CACHE
    assert body["messages"][-1]["content"][-1] == CACHE


def test_sealed_reasoning_opens_only_for_its_key(tmp_path: Path) -> None:
    mine = Sealer.of(Settings(data_dir=tmp_path), "key-a")
    token = mine.seal({"t": "thought", "s": "sig"})
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert Sealer.of(Settings(data_dir=tmp_path), "key-a").open(token, "x") == {"t": "thought", "s": "sig"}
    with pytest.raises(InvalidRequest) as caught:
        Sealer.of(Settings(data_dir=tmp_path), "key-b").open(token, "input[0].encrypted_content")
    assert caught.value.param == "input[0].encrypted_content"


def test_the_reasoning_key_is_made_only_when_needed(tmp_path: Path) -> None:
    sealer = Sealer.of(Settings(data_dir=tmp_path / "data"), "key-a")
    assert not (tmp_path / "data" / KEY_FILE).exists()
    sealer.seal({"t": "x", "s": "y"})
    assert (tmp_path / "data" / KEY_FILE).exists()


def test_replicas_sharing_a_server_key_open_each_others_reasoning(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / "one", server_key="shared-by-the-replicas")
    other = Settings(data_dir=tmp_path / "other", server_key="shared-by-the-replicas")
    token = Sealer.of(one, "key-a").seal({"t": "thought", "s": "sig"})
    assert Sealer.of(other, "key-a").open(token, "x") == {"t": "thought", "s": "sig"}
    assert not (tmp_path / "one" / KEY_FILE).exists()  # nothing kept per machine when the key is configured
    with pytest.raises(InvalidRequest):
        Sealer.of(Settings(data_dir=tmp_path / "alone"), "key-a").open(token, "x")
