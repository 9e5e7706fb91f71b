"""A body nested deeper than any real request is a 400 in the caller's envelope, on every JSON route, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from quarry.api._body import MAX_JSON_DEPTH
from tests.api.conftest import HAIKU, KEY


def _tool(parameters: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "x": parameters}}}


ROUTES = [
    (
        "/v1/chat/completions",
        lambda deep: {"model": HAIKU, "messages": [{"role": "user", "content": "Hi"}], "tools": [_tool(deep)]},
    ),
    (
        "/v1/messages",
        lambda deep: {
            "model": HAIKU,
            "max_tokens": 10,
            "metadata": {"x": deep},
            "messages": [{"role": "user", "content": "Hi"}],
        },
    ),
    (
        "/v1/messages/count_tokens",
        lambda deep: {
            "model": HAIKU,
            "tools": [{"name": "f", "input_schema": deep}],
            "messages": [{"role": "user", "content": "Hi"}],
        },
    ),
    ("/v1/embeddings", lambda deep: {"model": "amazon.titan-embed-text-v2:0", "input": "x", "extra": deep}),
]


@pytest.mark.parametrize(("path", "body"), ROUTES)
@pytest.mark.parametrize(
    ("levels", "message"),
    [
        (MAX_JSON_DEPTH + 1, f"nested deeper than {MAX_JSON_DEPTH} levels"),
        (1000, f"nested deeper than {MAX_JSON_DEPTH} levels"),
        (5000, "not valid JSON"),  # past orjson's own limit of 1,024 levels: refused while parsing
    ],
)
def test_deeply_nested_bodies_are_a_400(gateway: str, path: str, body: Any, levels: int, message: str) -> None:
    response = httpx.post(
        gateway + path,
        content=_raw(body, levels),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert message in error["message"]
    assert error["type"] == "invalid_request_error"


def _raw(body: Any, levels: int) -> bytes:
    """The body with `levels` of arrays spliced in as text (orjson will not write that deep)."""
    marker = "__DEEP__"
    return orjson.dumps(body(marker)).replace(f'"{marker}"'.encode(), b"[" * levels + b"1" + b"]" * levels)


def test_a_body_just_within_the_limit_is_served(gateway: str) -> None:
    schema: Any = {"type": "object"}
    for _ in range((MAX_JSON_DEPTH - 8) // 2):  # two levels each: the schema and its properties
        schema = {"type": "object", "properties": {"x": schema}}
    body = {"model": HAIKU, "messages": [{"role": "user", "content": "Hi"}], "tools": [_tool(schema)]}
    response = httpx.post(gateway + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
