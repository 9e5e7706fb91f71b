"""The official `openai` SDK's Responses client, pointed at the shared gateway."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.api.conftest import KEY


@pytest.fixture
def client(gateway: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway}/v1", api_key=KEY, max_retries=0) as made:
        yield made
