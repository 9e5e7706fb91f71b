"""The official `anthropic` SDK, pointed at the shared gateway as a user points it: the base URL without /v1."""

from __future__ import annotations

import anthropic
import pytest

from tests.api.conftest import KEY


@pytest.fixture
def claude(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway, api_key=KEY, max_retries=0)


@pytest.fixture
def async_claude(gateway: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway, api_key=KEY, max_retries=0)
