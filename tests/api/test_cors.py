"""CORS: browsers on an allowed origin pass the preflight for every header the SDKs send and can read the request id
and rate-limit headers; other origins, and every origin when none is configured, get no CORS headers."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest

from quarry.server import create_app
from quarry.settings import CorsSettings, Settings
from tests.api.conftest import HAIKU, KEY
from tests.conftest import SDKs

ORIGIN = "https://chat.example.com"
# What a browser sets itself or lets through without asking (the CORS-safelisted headers).
NOT_ASKED = {"accept", "accept-encoding", "accept-language", "connection", "content-length", "host", "user-agent"}


@pytest.fixture(scope="module")
def cors_url(serve: Any, aws_environment: None) -> str:
    settings = Settings(backend="bedrock", api_key=KEY, cors=CorsSettings(allow_origins=[ORIGIN]))  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def sdk_headers(url: str) -> set[str]:
    """The header names the official SDKs really put on their calls (as a browser build would send them)."""
    seen: set[str] = set()

    def note(request: httpx.Request) -> None:
        seen.update(name.lower() for name in request.headers)

    hooks: dict[str, list[Any]] = {"request": [note]}
    # Each SDK's own HTTP client class (the anthropic SDK brings its own httpx), with a hook that sees each request.
    with openai.DefaultHttpxClient(event_hooks=hooks) as http:
        openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, http_client=http, max_retries=0).chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "Hi"}]
        )
    browser = {"anthropic-dangerous-direct-browser-access": "true"}  # what the browser build of the SDK adds
    with anthropic.DefaultHttpxClient(event_hooks=hooks) as http:
        client = anthropic.Anthropic(
            base_url=url, api_key=KEY, http_client=http, max_retries=0, default_headers=browser
        )
        with client.messages.stream(
            model="claude-3-haiku-20240307",
            max_tokens=20,
            messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
        ) as stream:
            stream.until_done()
    assert {"x-stainless-lang", "anthropic-version", "anthropic-beta", "authorization"} <= seen
    return seen - NOT_ASKED


def test_preflight_allows_what_the_sdks_send(cors_url: str) -> None:
    asked = sdk_headers(cors_url) | {"x-request-id", "x-api-key"}  # the key header of older SDKs and Claude Code
    for path in ("/v1/chat/completions", "/v1/messages", "/v1/embeddings"):
        answer = httpx.options(
            f"{cors_url}{path}",
            headers={
                "origin": ORIGIN,
                "access-control-request-method": "POST",
                "access-control-request-headers": ",".join(sorted(asked)),
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
        assert asked <= allowed, asked - allowed
        assert "POST" in answer.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in answer.headers


def test_a_preflight_from_another_origin_is_refused(cors_url: str) -> None:
    answer = httpx.options(
        f"{cors_url}/v1/chat/completions",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers


def test_responses_and_errors_let_the_page_read_request_id_and_limits(sdk: SDKs, cors_url: str) -> None:
    browser = {"origin": ORIGIN}
    client = sdk.openai(f"{cors_url}/v1", KEY, default_headers=browser)
    ok = client.chat.completions.with_raw_response.create(model=HAIKU, messages=[{"role": "user", "content": "Hi"}])
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    exposed = {h.strip().lower() for h in ok.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after", "x-ratelimit-remaining-requests", "x-ratelimit-reset-tokens"} <= exposed
    # An error must carry them too, or the page sees an opaque network failure instead of the 429.
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "[[emulator: throttle]]"}])
    assert caught.value.response.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.get(f"{cors_url}/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_without_allowed_origins_no_cors_headers_are_sent(gateway: str) -> None:
    answer = httpx.get(f"{gateway}/health", headers={"origin": ORIGIN})
    assert answer.status_code == 200
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
    preflight = httpx.options(
        f"{gateway}/v1/chat/completions", headers={"origin": ORIGIN, "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
