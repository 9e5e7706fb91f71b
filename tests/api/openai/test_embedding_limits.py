"""Embedding inputs per request are capped at OpenAI's own 2,048: past it, a 400 before any upstream call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from quarry.api.openai import _embeddings
from quarry.server import create_app
from quarry.settings import EmbeddingSettings, Settings

_LIMIT = EmbeddingSettings().max_inputs


def test_the_default_is_openais_limit() -> None:
    assert _LIMIT == _embeddings.MAX_INPUTS == 2048


def test_more_inputs_than_the_limit_are_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="amazon.titan-embed-text-v2:0", input=["a cat"] * (_LIMIT + 1))
    assert caught.value.body["code"] == "too_many_inputs"  # type: ignore[index]
    assert caught.value.body["param"] == "input"  # type: ignore[index]
    assert "QUARRY_EMBEDDINGS__MAX_INPUTS" in caught.value.message


def test_the_limit_itself_is_served(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="cohere.embed-english-v3", input=["a cat"] * _LIMIT)
    assert len(result.data) == _LIMIT


def test_the_operators_setting_is_the_limit(serve: Any, aws_environment: None, tmp_path: Path) -> None:
    settings = Settings(backend="bedrock", embeddings=EmbeddingSettings(max_inputs=3), data_dir=tmp_path)  # type: ignore[arg-type]
    url = serve(create_app(settings), lifespan="on").url
    with openai.OpenAI(base_url=f"{url}/v1", api_key="any", max_retries=0) as client:
        assert len(client.embeddings.create(model="amazon.titan-embed-text-v2:0", input=["a"] * 3).data) == 3
        with pytest.raises(openai.BadRequestError, match="QUARRY_EMBEDDINGS__MAX_INPUTS"):
            client.embeddings.create(model="amazon.titan-embed-text-v2:0", input=["a"] * 4)
