"""Protocol hygiene: a wrong method is a 405 naming the allowed ones, a body declared as something other than JSON
on a JSON route is a 415; both in the caller's envelope (OpenAI's, Anthropic's, plain text off the API)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import KEY

AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/chat/completions", {"POST"}),
        ("PUT", "/v1/embeddings", {"POST"}),
        ("DELETE", "/api/v1/chat/completions", {"POST"}),
        ("POST", "/v1/models", {"GET", "HEAD"}),
        # The same path served by several routes: Allow lists every method of all of them, not the first's.
        ("DELETE", "/v1/conversations", {"GET", "HEAD", "POST"}),
        ("PUT", "/v1/conversations/abc", {"GET", "HEAD", "PATCH", "POST", "DELETE"}),
        ("PATCH", "/admin/keys", {"GET", "HEAD", "POST"}),
    ],
)
def test_a_wrong_method_is_a_405_in_openais_envelope(gateway: str, method: str, path: str, allowed: set[str]) -> None:
    response = httpx.request(method, gateway + path, headers=AUTH)
    assert response.status_code == 405, response.text
    assert set(response.headers["allow"].split(", ")) == allowed
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "method_not_allowed"
    assert method in error["message"]
    assert path in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("DELETE", "/v1/messages", {}),
        ("GET", "/api/v1/messages/count_tokens", {}),
        ("GET", "/v1/chat/completions", {"anthropic-version": "2023-06-01"}),  # an Anthropic client, anywhere
    ],
)
def test_a_wrong_method_is_a_405_in_anthropics_envelope(
    gateway: str, method: str, path: str, headers: dict[str, str]
) -> None:
    response = httpx.request(method, gateway + path, headers={"x-api-key": KEY, **headers})
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert method in body["error"]["message"]


def test_a_wrong_method_off_the_api_is_a_plain_405(gateway: str) -> None:
    response = httpx.post(gateway + "/health")
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "GET"  # a FastAPI route: no implicit HEAD
    assert response.headers["content-type"].startswith("text/plain")
    assert "POST" in response.text


def test_an_unknown_path_is_still_a_404(gateway: str) -> None:
    response = httpx.get(gateway + "/v1/nothing-here", headers=AUTH)
    assert response.status_code == 404
    assert "allow" not in response.headers
