"""Which sampling parameters and limits a model takes, on Converse and on Claude's Messages body."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api._core import (
    DEFAULT_OUTPUT,
    inference_config,
    messages_sampling,
    output_limit,
    output_reserve,
    top_k_fields,
)
from tests.api.core.conftest import LLAMA3, NOVA_PRO, SONNET_37, SONNET_45, UNKNOWN, model


@pytest.mark.parametrize(
    ("model_id", "asked", "expected"),
    [
        pytest.param(SONNET_37, {"max_tokens": None}, {"maxTokens": 64000}, id="the model's limit by default"),
        pytest.param(UNKNOWN, {"max_tokens": None}, {}, id="no limit for an unknown model"),
        pytest.param(
            SONNET_37,
            {"max_tokens": 10, "temperature": 1.7},
            {"maxTokens": 10, "temperature": 1.0},
            id="temperature capped at 1",
        ),
        pytest.param(
            SONNET_37,
            {"max_tokens": 10, "temperature": 0.5, "top_p": 0.9},
            {"maxTokens": 10, "temperature": 0.5, "topP": 0.9},
            id="both where the model takes both",
        ),
        pytest.param(
            SONNET_45,
            {"max_tokens": 10, "temperature": 0.5, "top_p": 0.9},
            {"maxTokens": 10, "temperature": 0.5},
            id="temperature wins where the model takes one",
        ),
        pytest.param(SONNET_45, {"max_tokens": 10, "top_p": 0.9}, {"maxTokens": 10, "topP": 0.9}, id="top_p alone"),
        pytest.param(
            LLAMA3, {"max_tokens": 5, "stop": ["X"]}, {"maxTokens": 5, "stopSequences": ["X"]}, id="stop sequences"
        ),
    ],
)
def test_inference_config(model_id: str, asked: dict[str, Any], expected: dict[str, Any]) -> None:
    assert inference_config(model(model_id), **asked) == expected


@pytest.mark.parametrize(
    ("model_id", "asked", "limit", "reserve"),
    [
        pytest.param(SONNET_37, 10, 10, 10, id="what the request asks"),
        pytest.param(SONNET_37, None, 64000, 64000, id="the model's limit"),
        pytest.param(UNKNOWN, None, None, DEFAULT_OUTPUT, id="Bedrock's default, reserved as the default output"),
        pytest.param(UNKNOWN, 7, 7, 7, id="asked, for an unknown model"),
    ],
)
def test_output_limit(model_id: str, asked: int | None, limit: int | None, reserve: int) -> None:
    """One rule for the maxTokens sent and the output tokens reserved at admission."""
    assert output_limit(model(model_id), asked) == limit
    assert output_reserve(model(model_id), asked) == reserve
    assert inference_config(model(model_id), max_tokens=asked).get("maxTokens") == limit


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (NOVA_PRO, {"inferenceConfig": {"topK": 40}}),
        (LLAMA3, {}),
        (SONNET_37, {"top_k": 40}),
        (UNKNOWN, {"top_k": 40}),
    ],
)
def test_top_k_fields(model_id: str, expected: dict[str, Any]) -> None:
    fields: dict[str, Any] = {}
    top_k_fields(model(model_id), 40, fields)
    assert fields == expected


SAMPLING = {"temperature": 0.5, "top_p": 0.9, "top_k": 5}


@pytest.mark.parametrize(
    ("model_id", "body", "kept"),
    [
        pytest.param(
            SONNET_37,
            {**SAMPLING, "thinking": {"type": "enabled", "budget_tokens": 2000}},
            set(),
            id="thinking drops all",
        ),
        pytest.param(
            SONNET_37,
            {**SAMPLING, "thinking": {"type": "disabled"}},
            {"temperature", "top_p", "top_k"},
            id="thinking off keeps all",
        ),
        pytest.param(SONNET_45, dict(SAMPLING), {"temperature", "top_k"}, id="temperature excludes top_p"),
        pytest.param(SONNET_45, {"top_p": 0.9}, {"top_p"}, id="top_p alone stays"),
    ],
)
def test_messages_sampling(model_id: str, body: dict[str, Any], kept: set[str]) -> None:
    messages_sampling(model(model_id).facts, body)  # type: ignore[arg-type]
    assert set(body) - {"thinking"} == kept
