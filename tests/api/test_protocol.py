"""Protocol hygiene: a wrong method is a 405 naming the allowed ones, a body declared as something other than JSON
on a JSON route is a 415; both in the caller's envelope (OpenAI's, Anthropic's, plain text off the API)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.api.conftest import HAIKU, KEY

AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/chat/completions", {"POST"}),
        ("PUT", "/v1/embeddings", {"POST"}),
        ("DELETE", "/api/v1/chat/completions", {"POST"}),
        ("POST", "/v1/models", {"GET", "HEAD"}),
        # The same path served by several routes: Allow lists every method of all of them, not the first's.
        ("DELETE", "/v1/toolbox/conversations", {"GET", "HEAD", "POST"}),
        ("PUT", "/v1/toolbox/conversations/abc", {"GET", "HEAD", "PATCH", "POST", "DELETE"}),
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


CHAT = {"model": HAIKU, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
JSON_ROUTES = ["/v1/chat/completions", "/v1/messages", "/api/v1/messages/count_tokens", "/v1/embeddings"]


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("declared", ["text/plain", "multipart/form-data; boundary=x", "application/xml", "image/png"])
def test_a_body_declared_as_something_else_is_a_415(gateway: str, path: str, declared: str) -> None:
    response = httpx.post(gateway + path, content=orjson.dumps(CHAT), headers={**AUTH, "Content-Type": declared})
    assert response.status_code == 415, response.text
    assert response.headers["accept"] == "application/json"
    body = response.json()
    error = body["error"]
    assert error["type"] == "invalid_request_error"
    assert "application/json" in error["message"]
    assert declared.split(";")[0] in error["message"]
    if "messages" in path:
        assert body["type"] == "error"  # Anthropic's envelope on its routes
    else:
        assert error["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json; charset=utf-8"},
        {"Content-Type": "Application/JSON"},
        {"Content-Type": "application/vnd.api+json"},
        {},  # no Content-Type at all: raw HTTP clients omit it
        {"Content-Type": "application/x-www-form-urlencoded"},  # what `curl -d '{...}'` declares
    ],
)
def test_json_declared_as_json_or_undeclared_is_served(gateway: str, headers: dict[str, str]) -> None:
    raw = httpx.Request("POST", gateway + "/v1/chat/completions", content=orjson.dumps(CHAT), headers=AUTH)
    for name, value in headers.items():
        raw.headers[name] = value
    if "Content-Type" not in headers:
        assert "content-type" not in raw.headers
    with httpx.Client() as client:  # closed: a leaked socket is a ResourceWarning that fails a later test
        response = client.send(raw)
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "chat.completion"


def test_a_form_that_is_not_json_is_still_a_400(gateway: str) -> None:
    response = httpx.post(gateway + "/v1/chat/completions", data={"model": HAIKU}, headers=AUTH)
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.json()["error"]["message"]
