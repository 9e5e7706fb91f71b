"""The parts of the translation with no network in them: beta flags, Claude model names, native bodies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from quarry.api.anthropic._native import betas, native_body
from quarry.bedrock import claude_models, facts_for, known_model_ids
from quarry.errors import InvalidRequest
from quarry.settings import ModelSettings

ACCEPTED = ModelSettings().anthropic_betas


async def _no_images(url: str) -> tuple[str, bytes]:
    raise AssertionError(f"no image should be fetched: {url}")


def test_betas_keep_only_what_bedrock_accepts() -> None:
    header = " claude-code-20250219, interleaved-thinking-2025-05-14,, oauth-2025-04-20,context-1m-2025-08-07"
    assert betas(header, None, ACCEPTED) == ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]
    assert betas(None, ["advanced-tool-use-2025-11-20"], ACCEPTED) == ["tool-search-tool-2025-10-19"]
    assert betas("effort-2025-11-24", ["effort-2025-11-24"], ACCEPTED) == ["effort-2025-11-24"]
    assert betas(None, "not-a-list", ACCEPTED) == []


def test_claude_names_from_bedrock_ids() -> None:
    names = claude_models(known_model_ids())
    assert names["claude-3-5-sonnet"] == "anthropic.claude-3-5-sonnet-20241022-v2:0"  # the newest of two dates
    assert names["claude-3-5-sonnet-20240620"] == "anthropic.claude-3-5-sonnet-20240620-v1:0"
    assert names["claude-haiku-4-5"] == "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert names["claude-sonnet-4-6"] == "anthropic.claude-sonnet-4-6"
    assert names["claude-opus-4-6"] == "anthropic.claude-opus-4-6-v1"
    assert all(model_id.startswith("anthropic.claude") for model_id in names.values())


async def _body(raw: dict[str, Any], model: str = "anthropic.claude-sonnet-4-5-20250929-v1:0") -> dict[str, Any]:
    base = {"model": "x", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
    # Through JSON, as the body goes to Bedrock.
    body: dict[str, Any] = orjson.loads(orjson.dumps(await native_body(base | raw, [], facts_for(model), _no_images)))
    return body


async def test_native_body_drops_what_bedrock_refuses() -> None:
    body = await _body({"stream": True, "metadata": {"user_id": "u"}, "service_tier": "auto", "top_k": 5})
    assert body == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
        "top_k": 5,
    }


async def test_native_body_sampling_rules() -> None:
    thinking = await _body({"thinking": {"type": "enabled", "budget_tokens": 1024}, "temperature": 0.3, "top_k": 3})
    assert "temperature" not in thinking
    assert "top_k" not in thinking
    both = await _body({"temperature": 0.3, "top_p": 0.9})
    assert (both["temperature"], "top_p" in both) == (0.3, False)  # Sonnet 4.5 takes one or the other
    older = await _body({"temperature": 0.3, "top_p": 0.9}, "anthropic.claude-3-haiku-20240307-v1:0")
    assert (older["temperature"], older["top_p"]) == (0.3, 0.9)


async def test_native_body_maps_output_format() -> None:
    schema = {"type": "json_schema", "schema": {"type": "object"}}
    body = await _body({"output_format": schema})
    assert body["output_config"] == {"format": schema}


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
    ],
)
async def test_sources_bedrock_cannot_take_are_refused(block: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match=r"messages\.0\.content\.0"):
        await _body({"messages": [{"role": "user", "content": [block]}]})
