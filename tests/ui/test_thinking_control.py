"""The chat's Thinking control on the Claude models of 2026: the toolbox client reads each model's effort levels
from `/v1/models` and sends the level chosen as `reasoning_effort`; models without levels keep on/off."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest

from quarry.conversations._models import Parameters
from quarry.server import create_app
from quarry.settings import Settings
from quarry.ui._client import ToolboxClient
from quarry.ui._sampling import parameters as sampling_parameters
from quarry.ui._thinking import shown_thinking, stored_thinking

KEY = "sk-thinking-ui"
T = TypeVar("T")


@pytest.fixture(scope="module")
def gateway(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder: Path = tmp_path_factory.mktemp("thinking-ui")
    settings = Settings(backend="emulator", api_key=KEY, keepalive_s=0.2, data_dir=folder)  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def run(gateway: str, scenario: Callable[[ToolboxClient], Awaitable[T]]) -> T:
    """On an event loop of its own, in a worker thread (Playwright's sync API may hold this thread's loop)."""

    async def main() -> T:
        async with httpx2.AsyncClient(timeout=30, trust_env=False) as http:
            return await scenario(ToolboxClient(gateway, KEY, "b:thinking-test", http))

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def test_effort_levels_of_adaptive_models_and_none_for_budget_models(gateway: str) -> None:
    async def scenario(client: ToolboxClient) -> list[tuple[list[str], str | None]]:
        names = ["us.anthropic.claude-opus-5-5", "sonnet", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"]
        assert {*names, "opus", "haiku", "us.anthropic.claude-haiku-5-5"} <= set(await client.models())  # the picker
        # The Thinking control reads them from the list the page loaded; one model's own entry says the same.
        assert [client.efforts[name] for name in names] == [await client.effort_levels(name) for name in names]
        return [client.efforts[name] for name in names]

    opus, sonnet, older = run(gateway, scenario)
    assert opus == (["low", "medium", "high", "xhigh", "max"], "medium")
    assert sonnet == (["low", "medium", "high", "xhigh", "max"], "high")  # the alias, through the model it calls
    assert older == ([], None)


def test_a_chosen_level_is_sent_as_reasoning_effort(gateway: str) -> None:
    async def scenario(client: ToolboxClient) -> str:
        parts = [d.reasoning async for d in client.stream("us.anthropic.claude-opus-4-6-v1", [
            {"role": "user", "content": "Hi"}], thinking="high")]  # fmt: skip
        return "".join(parts)

    assert run(gateway, scenario)  # Opus 4.6 thinks adaptively at `high`: reasoning streams back


@pytest.mark.parametrize(
    ("shown", "stored"), [("off", False), (None, False), ("on", True), ("xhigh", "xhigh"), ("low", "low")]
)
def test_the_control_is_stored_with_the_conversation(shown: str | None, stored: bool | str) -> None:
    # What the chat stores: the sampling fields (empty here) and the control's choice as stored.
    parameters = sampling_parameters(None, None, None, None, thinking=stored_thinking(shown))
    assert parameters["thinking"] == stored
    assert Parameters.model_validate(parameters).thinking == stored
    assert shown_thinking(stored) == (shown or "off")
