"""Errors in OpenAI's envelope with the right status, the model list, vision inputs and embeddings."""

from __future__ import annotations

import base64
import struct
from typing import Any

import httpx
import openai
import pytest

from tests.api.conftest import HAIKU, KEY, SONNET_45_PROFILE, png
from tests.conftest import SDKs

USER_HI: Any = [{"role": "user", "content": "Hi"}]


def _post(
    gateway: str, body: bytes | dict[str, Any], key: str | None = KEY, path: str = "/v1/chat/completions"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if isinstance(body, bytes):
        return httpx.post(gateway + path, headers={**headers, "Content-Type": "application/json"}, content=body)
    return httpx.post(gateway + path, headers=headers, json=body)


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(("key", "code"), [(None, "missing_api_key"), ("sk-wrong", "invalid_api_key")])
def test_missing_or_wrong_key_is_401(gateway: str, key: str | None, code: str, sdk: SDKs) -> None:
    error = _error(_post(gateway, {"model": HAIKU, "messages": USER_HI}, key=key), 401)
    assert error["code"] == code
    with pytest.raises(openai.AuthenticationError):
        sdk.openai(f"{gateway}/v1", "sk-wrong").models.list()


def test_malformed_json_is_400_not_a_crash(gateway: str) -> None:
    error = _error(_post(gateway, b'{"model": "x", "messages": ['), 400)
    assert error["type"] == "invalid_request_error"
    assert "JSON" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER_HI}, "model"),
        ({"model": HAIKU, "messages": []}, "messages"),
        ({"model": HAIKU, "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": HAIKU, "messages": USER_HI, "max_tokens": 0}, "max_tokens"),
        ({"model": HAIKU, "messages": USER_HI, "temperature": "hot"}, "temperature"),
        ({"model": HAIKU, "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"model": HAIKU, "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "messages[0].content"),
    ],
)
def test_schema_violations_are_400_naming_the_field(gateway: str, body: dict[str, Any], param: str) -> None:
    error = _error(_post(gateway, body), 400)
    assert error["param"] == param


def test_body_that_is_not_an_object(gateway: str) -> None:
    _error(_post(gateway, b"[1, 2]"), 400)


def test_oversized_body_is_413(gateway: str) -> None:
    huge = b'{"model": "x", "messages": [{"role": "user", "content": "' + b"a" * (33 * 1024 * 1024) + b'"}]}'
    error = _error(_post(gateway, huge), 413)
    assert error["code"] == "request_too_large"


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="anthropic.claude-9-nonexistent", messages=USER_HI)
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]
    assert caught.value.body["param"] == "model"  # type: ignore[index]


@pytest.mark.parametrize(
    ("directive", "error_class", "status"),
    [
        ("throttle", openai.RateLimitError, 429),
        ("error=ServiceUnavailableException", openai.InternalServerError, 503),
        ("error=ModelTimeoutException", openai.InternalServerError, 504),
        ("error=ModelErrorException", openai.InternalServerError, 502),
        ("error=AccessDeniedException", openai.PermissionDeniedError, 403),
        ("error=ValidationException", openai.BadRequestError, 400),
    ],
)
def test_upstream_errors_map_to_statuses(
    client: openai.OpenAI, directive: str, error_class: type[openai.APIStatusError], status: int
) -> None:
    with pytest.raises(error_class) as caught:
        client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": f"[[emulator: {directive}]]"}]
        )
    assert caught.value.status_code == status
    if status == 429:
        assert int(caught.value.response.headers["retry-after"]) >= 1


def test_unknown_route_is_an_openai_404(gateway: str) -> None:
    error = _error(httpx.get(f"{gateway}/v1/nothing-here", headers={"Authorization": f"Bearer {KEY}"}), 404)
    assert "/v1/nothing-here" in error["message"]


def test_model_list_and_lookup(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    assert HAIKU in models
    assert SONNET_45_PROFILE in models
    assert {"fast", "smart"} <= set(models), "configured aliases are listed"
    assert "amazon.titan-embed-text-v2:0" in models
    assert models[HAIKU].owned_by == "anthropic"
    assert models[HAIKU].object == "model"
    assert client.models.retrieve(SONNET_45_PROFILE).id == SONNET_45_PROFILE
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def _image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.parametrize("declared", ["image/png", "image/jpeg"])
def test_vision_with_a_data_url(client: openai.OpenAI, declared: str) -> None:
    # The declared media type is not trusted: the bytes say png.
    url = f"data:{declared};base64,{base64.b64encode(png(3, 3)).decode()}"
    answer = client.chat.completions.create(
        model=HAIKU,
        messages=[{"role": "user", "content": [{"type": "text", "text": "What is this?"}, _image_part(url)]}],  # type: ignore[list-item]
    )
    content = answer.choices[0].message.content or ""
    assert "1 image" in content
    assert "png" in content


def test_vision_with_an_http_image(client: openai.OpenAI, image_server: str) -> None:
    answer = client.chat.completions.create(
        model=HAIKU,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Two?"},
                    _image_part(f"{image_server}/cat.png"),
                    _image_part(f"{image_server}/cat.png"),
                ],
            }
        ],  # type: ignore[list-item]
    )
    assert "2 images" in (answer.choices[0].message.content or "")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/cat.png",
        "http://[::1]/cat.png",
        "file:///etc/passwd",
        "ftp://example.com/cat.png",
        "redirect",
    ],
)
def test_ssrf_attempts_are_refused(client: openai.OpenAI, image_server: str, url: str) -> None:
    if url == "redirect":
        url = f"{image_server}/redirect"  # allowed host, redirecting to the metadata address
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [_image_part(url)]}])  # type: ignore[list-item]
    assert caught.value.body["code"] == "invalid_image_url"  # type: ignore[index]


def test_data_url_that_is_not_an_image(client: openai.OpenAI) -> None:
    url = "data:image/png;base64," + base64.b64encode(b"just text, not pixels").decode()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [_image_part(url)]}])  # type: ignore[list-item]


def test_embeddings_floats_and_similarity(client: openai.OpenAI) -> None:
    result = client.embeddings.create(
        model="text-embedding-3-small", input=["the cat sat on the mat", "a cat sat on a mat", "quarterly tax filing"]
    )
    assert result.model == "amazon.titan-embed-text-v2:0"
    assert [d.index for d in result.data] == [0, 1, 2]
    vectors = [d.embedding for d in result.data]
    assert len(vectors[0]) == 1024

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert result.usage.prompt_tokens == result.usage.total_tokens > 0


def test_embeddings_base64_and_dimensions(gateway: str) -> None:
    response = _post(
        gateway,
        {"model": "amazon.titan-embed-text-v2:0", "input": "hello", "encoding_format": "base64", "dimensions": 256},
        path="/v1/embeddings",
    )
    assert response.status_code == 200, response.text
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    vector = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert len(vector) == 256
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-3


def test_cohere_embeddings_in_batches(client: openai.OpenAI) -> None:
    texts = [f"document number {i}" for i in range(200)]  # three calls of at most 96
    result = client.embeddings.create(model="cohere.embed-english-v3", input=texts)
    assert len(result.data) == 200
    assert [d.index for d in result.data] == list(range(200))
    assert result.usage.prompt_tokens > 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "amazon.titan-embed-text-v2:0", "input": [1, 2, 100300]}, "input[2]"),  # not a cl100k_base id
        ({"model": "amazon.titan-embed-text-v2:0", "input": ["ok", ""]}, "input[1]"),
        ({"model": "amazon.titan-embed-text-v2:0", "input": "x", "dimensions": 100}, "dimensions"),
        ({"model": HAIKU, "input": "x"}, "model"),
    ],
)
def test_embedding_mistakes_are_400(gateway: str, body: dict[str, Any], param: str) -> None:
    error = _error(_post(gateway, body, path="/v1/embeddings"), 400)
    assert error["param"] == param
