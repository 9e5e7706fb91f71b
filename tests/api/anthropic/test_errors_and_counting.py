"""Anthropic's error envelope and status codes for every failure, and `/v1/messages/count_tokens`."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from tests.api.anthropic.test_messages import WEATHER
from tests.api.conftest import KEY

HI: list[Any] = [{"role": "user", "content": "Hi"}]


def _post(gateway: str, body: bytes | dict[str, Any], key: str = KEY, path: str = "/v1/messages") -> httpx.Response:
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    if isinstance(body, dict):
        return httpx.post(f"{gateway}{path}", headers=headers, json=body)
    return httpx.post(f"{gateway}{path}", headers=headers, content=body)


def _error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    message: str = body["error"]["message"]
    assert message
    return message


def test_missing_max_tokens_is_invalid_request(gateway: str) -> None:
    message = _error(_post(gateway, {"model": "claude-sonnet-4-5", "messages": HI}), 400, "invalid_request_error")
    assert "max_tokens" in message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "claude-sonnet-4-5", "max_tokens": 0, "messages": HI}, "max_tokens"),
        ({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]}, "role"),
        ({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": HI, "temperature": 2}, "temperature"),
        ({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []}, "messages"),
        ({"max_tokens": 5, "messages": HI}, "model"),
        (
            {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": HI, "tool_choice": {"type": "maybe"}},
            "tool_choice",
        ),
    ],
)
def test_schema_violations_name_the_field(gateway: str, body: dict[str, Any], field: str) -> None:
    assert field in _error(_post(gateway, body), 400, "invalid_request_error")


def test_malformed_json_and_non_objects(gateway: str) -> None:
    assert "JSON" in _error(_post(gateway, b'{"model": '), 400, "invalid_request_error")
    _error(_post(gateway, b"[1, 2]"), 400, "invalid_request_error")


def test_content_blocks_a_converse_model_cannot_take(gateway: str) -> None:
    block = {"type": "search_result", "source": "x", "title": "t", "content": []}
    body = {"model": "amazon.nova-pro-v1:0", "max_tokens": 5, "messages": [{"role": "user", "content": [block]}]}
    assert "messages.0.content.0" in _error(_post(gateway, body), 400, "invalid_request_error")


def test_wrong_or_missing_key_is_authentication_error(gateway: str) -> None:
    with (
        anthropic.Anthropic(base_url=gateway, api_key="sk-wrong", max_retries=0) as wrong,
        pytest.raises(anthropic.AuthenticationError) as caught,
    ):
        wrong.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=HI)
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    response = httpx.post(f"{gateway}/v1/messages", json={"model": "x", "max_tokens": 1, "messages": HI})
    _error(response, 401, "authentication_error")


def test_unknown_model_is_not_found(claude: anthropic.Anthropic) -> None:
    for name in ("claude-9-opus", "anthropic.claude-9-nonexistent"):
        with pytest.raises(anthropic.NotFoundError) as caught:
            claude.messages.create(model=name, max_tokens=5, messages=HI)
        assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
        assert name in caught.value.body["error"]["message"]  # type: ignore[index]


def test_oversized_body_is_request_too_large(gateway: str) -> None:
    huge = b'{"model": "x", "max_tokens": 1, "messages": [{"role": "user", "content": "' + b"a" * (33 << 20) + b'"}]}'
    _error(_post(gateway, huge), 413, "request_too_large")


@pytest.mark.parametrize(
    ("directive", "error_class", "status", "kind"),
    [
        ("throttle", anthropic.RateLimitError, 429, "rate_limit_error"),
        ("error=ServiceUnavailableException", anthropic.OverloadedError, 529, "overloaded_error"),
        ("error=ModelTimeoutException", anthropic.GatewayTimeoutError, 504, "timeout_error"),
        ("error=ModelErrorException", anthropic.InternalServerError, 500, "api_error"),
        ("error=AccessDeniedException", anthropic.PermissionDeniedError, 403, "permission_error"),
        ("error=ValidationException", anthropic.BadRequestError, 400, "invalid_request_error"),
    ],
)
@pytest.mark.parametrize("model", ["claude-3-haiku-20240307", "amazon.nova-micro-v1:0"])
def test_upstream_errors_in_anthropic_terms(
    claude: anthropic.Anthropic,
    model: str,
    directive: str,
    error_class: type[anthropic.APIStatusError],
    status: int,
    kind: str,
) -> None:
    messages: list[Any] = [{"role": "user", "content": f"[[emulator: {directive}]]"}]
    with pytest.raises(error_class) as caught:
        claude.messages.create(model=model, max_tokens=5, messages=messages)
    assert caught.value.status_code == status
    assert caught.value.body["error"]["type"] == kind  # type: ignore[index]
    if status == 429:
        assert int(caught.value.response.headers["retry-after"]) >= 1


def test_unknown_route_from_an_anthropic_client(gateway: str) -> None:
    response = httpx.get(f"{gateway}/v1/nothing-here", headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"})
    assert "/v1/nothing-here" in _error(response, 404, "not_found_error")


def test_count_tokens_for_claude_equals_the_usage(claude: anthropic.Anthropic) -> None:
    request: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "system": "You are a weather bot.",
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "How warm is it in Rome today, in celsius?"}],
    }
    counted = claude.messages.count_tokens(**request)
    assert counted.input_tokens > 10
    answered = claude.messages.create(max_tokens=100, **request)
    assert counted.input_tokens == answered.usage.input_tokens
    shorter = claude.messages.count_tokens(model="claude-sonnet-4-5", messages=HI)
    assert shorter.input_tokens < counted.input_tokens


def test_count_tokens_with_thinking(claude: anthropic.Anthropic) -> None:
    counted = claude.messages.count_tokens(
        model="claude-sonnet-4-5", thinking={"type": "enabled", "budget_tokens": 2048}, messages=HI
    )
    assert counted.input_tokens > 0


def test_count_tokens_where_the_model_cannot_count(gateway: str) -> None:
    body = {"model": "amazon.nova-pro-v1:0", "messages": HI}
    message = _error(_post(gateway, body, path="/v1/messages/count_tokens"), 400, "invalid_request_error")
    assert "counting tokens" in message
