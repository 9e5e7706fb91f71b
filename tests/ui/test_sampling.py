"""The sampling fields' texts as request parameters: empty is the model's default (None, never sent); a chosen 0
is kept; anything else is refused with the field's name and range."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quarry.ui._client import ToolboxClient
from quarry.ui._sampling import SamplingProblem, parameters, shown


def test_empty_fields_are_the_models_default() -> None:
    assert parameters("", None, " ", "", thinking=False) == {
        "temperature": None,
        "top_p": None,
        "top_k": None,
        "max_tokens": None,
        "thinking": False,
    }


def test_chosen_values_are_kept_zero_included() -> None:
    chosen = parameters("0", "0.9", "40", "512", thinking=True)
    assert chosen == {"temperature": 0.0, "top_p": 0.9, "top_k": 40, "max_tokens": 512, "thinking": True}
    assert shown(chosen) == ["0", "0.9", "40", "512"]
    assert shown({"temperature": None, "top_p": None, "top_k": None, "max_tokens": None}) == ["", "", "", ""]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        (("1.5", "", "", ""), "temperature must be a number from 0 to 1"),
        (("", "-0.1", "", ""), "top_p must be a number from 0 to 1"),
        (("", "", "0", ""), "top_k must be a whole number from 1 to 500"),
        (("", "", "4.5", ""), "top_k must be a whole number from 1 to 500"),
        (("", "", "", "lots"), "max_tokens must be a whole number from 1 up"),
        (("nan", "", "", ""), "temperature must be"),
    ],
)
def test_other_values_are_refused_by_name(fields: tuple[str, str, str, str], said: str) -> None:
    with pytest.raises(SamplingProblem, match=said):
        parameters(*fields, thinking=False)


def test_on_the_wire_an_empty_field_is_not_sent_and_a_chosen_zero_is(serve: Any) -> None:
    """What the toolbox's client sends to /v1/chat/completions, seen by a recording server on a real socket."""
    bodies: list[dict[str, Any]] = []

    async def completions(request: Request) -> Response:
        bodies.append(json.loads(await request.body()))
        chunk = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}],
        }
        return Response(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n", media_type="text/event-stream")

    url = serve(Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])).url

    async def send(*fields: str) -> str:
        async with httpx2.AsyncClient(trust_env=False) as http:
            client = ToolboxClient(url, "", "b:test", http)
            return await client.complete(
                "m", [{"role": "user", "content": "Hi"}], **parameters(*fields, thinking=False)
            )

    with ThreadPoolExecutor(1) as worker:  # a loop of its own: Playwright may hold this thread's
        assert worker.submit(asyncio.run, send("", "", "", "")).result() == "ok"
        assert worker.submit(asyncio.run, send("0", "0", "5", "64")).result() == "ok"
    unset, chosen = bodies
    assert not {"temperature", "top_p", "top_k", "max_tokens", "reasoning_effort"} & set(unset)
    assert (chosen["temperature"], chosen["top_p"], chosen["top_k"], chosen["max_tokens"]) == (0, 0, 5, 64)
