"""The official `openai` SDK, pointed at the shared gateway."""

from __future__ import annotations

import openai
import pytest

from tests.api.conftest import KEY


@pytest.fixture
def client(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key=KEY, max_retries=0)


@pytest.fixture
def async_client(gateway: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key=KEY, max_retries=0)
