"""Embedding inputs per request are capped at OpenAI's own 2,048: past it, a 400 before any upstream call."""

from __future__ import annotations

import openai
import pytest

from quarry.api.openai import _embeddings
from quarry.settings import EmbeddingSettings

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
