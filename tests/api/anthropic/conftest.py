"""The official `anthropic` SDK, pointed at the shared gateway as a user points it: the base URL without /v1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import pytest

from tests.api.conftest import KEY


@pytest.fixture
def claude(gateway: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway, api_key=KEY, max_retries=0) as made:
        yield made


@pytest.fixture
async def async_claude(gateway: str) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=gateway, api_key=KEY, max_retries=0) as made:
        yield made
