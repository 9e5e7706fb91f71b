"""Cache points and system prompts: what a model that lacks them loses, and where configured ones go."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api._core import add_cache_points, fit_to_model
from quarry.bedrock import ConverseRequest
from tests.api.core.conftest import HAIKU_3, SONNET_37, TITAN, UNKNOWN, model

CACHE = {"cachePoint": {"type": "default"}}


def _request() -> Any:
    return {
        "system": [{"text": "rules"}, CACHE],
        "messages": [{"role": "user", "content": [{"text": "q"}, CACHE]}],
        "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}, CACHE]},
        "inferenceConfig": {},
    }


@pytest.mark.parametrize(
    ("model_id", "system", "first_turn", "tools"),
    [
        pytest.param(SONNET_37, [{"text": "rules"}, CACHE], [{"text": "q"}, CACHE], 2, id="caching model keeps all"),
        pytest.param(HAIKU_3, [{"text": "rules"}], [{"text": "q"}], 1, id="no cache points where it cannot cache"),
        pytest.param(UNKNOWN, [{"text": "rules"}, CACHE], [{"text": "q"}, CACHE], 2, id="unknown model trusted"),
        pytest.param(
            TITAN, None, [{"text": "rules"}, {"text": "q"}], 1, id="no system prompt: it opens the first turn"
        ),
    ],
)
def test_fit_to_model(model_id: str, system: Any, first_turn: Any, tools: int) -> None:
    request: ConverseRequest = _request()
    fit_to_model(model(model_id), request)
    assert request.get("system") == system
    assert request["messages"][0]["content"] == first_turn
    assert len(request["toolConfig"]["tools"]) == tools
    assert "inferenceConfig" not in request  # empty sections go


@pytest.mark.parametrize(
    ("model_id", "where", "added"),
    [
        (SONNET_37, ["system", "tools", "messages"], 3),
        (SONNET_37, ["messages"], 1),
        (HAIKU_3, ["system", "tools", "messages"], 0),
    ],
)
def test_add_cache_points(model_id: str, where: list[str], added: int) -> None:
    request: ConverseRequest = {
        "system": [{"text": "rules"}],
        "messages": [{"role": "user", "content": [{"text": "q"}]}],
        "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}]},
    }
    add_cache_points(model(model_id), request, where)
    add_cache_points(model(model_id), request, where)  # twice: no second point
    points = [*request["system"], *request["messages"][0]["content"], *request["toolConfig"]["tools"]]
    assert sum("cachePoint" in p for p in points) == added
