"""`/openapi.json` publishes every route the gateway serves, with the methods it serves them with; it and `/docs`
are behind the API's key check when keys are set."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.api.conftest import HAIKU, KEY, LLAMA3

AUTH = {"Authorization": f"Bearer {KEY}"}
EXPECTED = {
    "/chat/completions",
    "/completions",
    "/embeddings",
    "/messages",
    "/messages/count_tokens",
    "/responses",
    "/responses/input_tokens",
    "/responses/{response_id}",
    "/responses/{response_id}/input_items",
    "/responses/{response_id}/cancel",
    "/models",
    "/models/{model_id}",
    "/toolbox/conversations",
    "/toolbox/conversations/{conversation_id}",
    "/conversations",
    "/conversations/{conversation_id}",
    "/conversations/{conversation_id}/items",
    "/conversations/{conversation_id}/items/{item_id}",
    "/user/settings",
    "/knowledge-bases",
    "/knowledge-bases/{name}",
    "/knowledge-bases/{name}/documents",
    "/knowledge-bases/{name}/documents/{document}",
    "/knowledge-bases/{name}/retrieve",
    "/knowledge-bases/{name}/answer",
}


@pytest.fixture(scope="module")
def schema(gateway: str) -> dict[str, Any]:
    response = httpx.get(gateway + "/openapi.json", headers=AUTH)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def test_the_schema_lists_every_route(schema: dict[str, Any]) -> None:
    paths = set(schema["paths"])
    expected = {prefix + path for prefix in ("/v1", "/api/v1") for path in EXPECTED}
    expected |= {"/admin/keys", "/admin/keys/{key_id}", "/admin/keys/{key_id}/budgets", "/admin/keys/{key_id}/aws"}
    expected |= {"/admin/usage", "/health", "/admin/keys/{key_id}/guardrail"}
    expected |= {"/admin/circuits", "/admin/keys/{key_id}/fallbacks"}
    expected |= {"/admin/keys/{key_id}/team", "/admin/teams", "/admin/teams/{team}/budgets"}
    assert paths == expected
    operation_ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))  # unique, as OpenAPI requires
    assert schema["paths"]["/v1/chat/completions"]["post"]["requestBody"]["required"] is True
    upload = schema["paths"]["/v1/knowledge-bases/{name}/documents"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


@pytest.mark.parametrize(
    ("path", "method", "model", "field"),
    [
        ("/v1/chat/completions", "post", "ChatCompletionRequest", "messages"),
        ("/api/v1/embeddings", "post", "EmbeddingRequest", "input"),
        ("/v1/messages", "post", "MessagesRequest", "max_tokens"),
        ("/v1/messages/count_tokens", "post", "CountTokensRequest", "messages"),
        ("/v1/responses", "post", "ResponsesRequest", "input"),
        ("/v1/toolbox/conversations/{conversation_id}", "patch", "ConversationPatch", "title"),
        ("/admin/keys", "post", "NewKey", "name"),
        ("/v1/knowledge-bases", "post", "CreateKnowledgeBase", "name"),
        ("/v1/knowledge-bases/{name}", "patch", "ChangeKnowledgeBase", "shared_with"),
        ("/v1/knowledge-bases/{name}/retrieve", "post", "RetrieveRequest", "retrievalQuery"),
        ("/v1/knowledge-bases/{name}/answer", "post", "AnswerRequest", "question"),
    ],
)
def test_request_bodies_are_the_dialects_models(
    schema: dict[str, Any], path: str, method: str, model: str, field: str
) -> None:
    body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{model}"}
    assert field in schema["components"]["schemas"][model]["properties"]


def test_every_reference_resolves(schema: dict[str, Any]) -> None:
    references = set(re.findall(r'"\$ref":\s*"#/components/schemas/([^"]+)"', json.dumps(schema)))
    assert references
    assert references <= set(schema["components"]["schemas"])


def test_the_schemas_methods_are_the_ones_served(gateway: str, schema: dict[str, Any]) -> None:
    """For each published path, the live server's 405 names exactly the methods the schema lists (plus HEAD)."""
    for path, item in schema["paths"].items():
        concrete = re.sub(r"{\w+}", "x", path)
        response = httpx.request("TRACE", gateway + concrete, headers=AUTH)
        assert response.status_code == 405, (path, response.text)
        served = set(response.headers["allow"].split(", ")) - {"HEAD"}
        if path.endswith("/responses/input_tokens"):
            # Also a response id, as at OpenAI: GET and DELETE /responses/input_tokens look a response up (a 404).
            served -= {"GET", "DELETE"}
        assert served == {method.upper() for method in item}, path
        for operation in item.values():
            names = [parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "path"]
            assert names == re.findall(r"{(\w+)}", path)


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer sk-wrong"}, {"x-api-key": "sk-wrong"}], ids=["none", "bearer", "x-api"]
)
def test_the_schema_and_docs_need_a_key(gateway: str, path: str, headers: dict[str, str]) -> None:
    response = httpx.get(gateway + path, headers=headers)
    assert response.status_code == 401, response.text
    assert "paths" not in response.text


@pytest.mark.parametrize("headers", [AUTH, {"x-api-key": KEY}])
def test_the_docs_page_is_served_with_a_key(gateway: str, headers: dict[str, str]) -> None:
    response = httpx.get(gateway + "/docs", headers=headers)
    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


def _validator(schema: dict[str, Any], path: str, method: str, status: int, media: str) -> Draft202012Validator:
    """The published schema of one response, its `#/components/...` references resolving in the document."""
    responses = schema["paths"][path][method]["responses"]
    response = responses.get(str(status), responses["default"])
    return Draft202012Validator({**response["content"][media]["schema"], "components": schema["components"]})


HI = [{"role": "user", "content": "Hi"}]
ANTHROPIC = {"anthropic-version": "2023-06-01"}
MISSING = f"conv_{'0' * 24}"
# (method, concrete path, published path, body, extra headers, expected status)
ANSWERS = [
    ("post", "/v1/chat/completions", None, {"model": "gpt-4o-mini", "messages": HI}, {}, 200),
    ("post", "/api/v1/embeddings", None, {"model": "amazon.titan-embed-text-v2:0", "input": ["a", "b"]}, {}, 200),
    ("post", "/v1/completions", None, {"model": "gpt-3.5-turbo-instruct", "prompt": [[9906], [13347]]}, {}, 200),
    ("post", "/v1/completions", None, {"model": HAIKU, "prompt": "Hi", "echo": True}, {}, 400),
    (
        "post",
        "/v1/embeddings",
        None,
        {"model": "cohere.embed-english-v3", "input": "a", "encoding_format": "base64"},
        {},
        200,
    ),
    ("post", "/v1/messages", None, {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": HI}, {}, 200),
    ("post", "/v1/messages", None, {"model": LLAMA3, "max_tokens": 50, "messages": HI}, {}, 200),
    ("post", "/v1/messages/count_tokens", None, {"model": HAIKU, "messages": HI}, {}, 200),
    ("get", "/v1/models", None, None, {}, 200),
    ("get", "/v1/models", None, None, ANTHROPIC, 200),
    ("get", f"/v1/models/{HAIKU}", "/v1/models/{model_id}", None, {}, 200),
    ("get", f"/v1/models/{HAIKU}", "/v1/models/{model_id}", None, ANTHROPIC, 200),
    ("post", "/v1/toolbox/conversations", None, {"title": "Published"}, {}, 201),
    ("get", "/v1/toolbox/conversations", None, None, {}, 200),
    ("post", "/v1/conversations", None, {"metadata": {"topic": "published"}}, {}, 200),
    ("put", "/v1/user/settings", None, {"default_model": HAIKU}, {}, 200),
    # Errors: each in the envelope its route (or the caller's anthropic-version) calls for.
    ("post", "/v1/chat/completions", None, {"model": "gpt-4o-mini", "messages": []}, {}, 400),
    ("post", "/v1/chat/completions", None, {"model": "no-such-model", "messages": HI}, {}, 404),
    ("post", "/v1/messages", None, {"model": "claude-sonnet-4-5", "messages": "Hi"}, {}, 400),
    ("post", "/api/v1/messages/count_tokens", None, {"model": "no-such-model", "messages": HI}, {}, 404),
    ("get", "/v1/models/no.such-model", "/v1/models/{model_id}", None, ANTHROPIC, 404),
    ("delete", f"/v1/toolbox/conversations/{MISSING}", "/v1/toolbox/conversations/{conversation_id}", None, {}, 404),
    ("get", f"/v1/conversations/{MISSING}", "/v1/conversations/{conversation_id}", None, {}, 404),
]


@pytest.mark.parametrize(("method", "path", "published", "body", "headers", "status"), ANSWERS)
def test_answers_are_what_the_schema_publishes(
    gateway: str,
    schema: dict[str, Any],
    method: str,
    path: str,
    published: str | None,
    body: Any,
    headers: dict[str, str],
    status: int,
) -> None:
    response = httpx.request(method, gateway + path, json=body, headers=AUTH | headers)
    assert response.status_code == status, response.text
    media = response.headers["content-type"].partition(";")[0]
    validator = _validator(schema, published or path, method, status, media)
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(response.json())]
    assert errors == [], response.text


def test_an_answer_unlike_the_published_one_fails_validation(schema: dict[str, Any]) -> None:
    """The published schemas are strict enough to catch an answer in the wrong shape or envelope."""
    completion = _validator(schema, "/v1/chat/completions", "post", 200, "application/json")
    assert not completion.is_valid({"id": "x", "object": "chat.completion", "choices": []})  # no usage, model, …
    anthropic_error = _validator(schema, "/v1/messages", "post", 400, "application/json")
    assert not anthropic_error.is_valid({"error": {"message": "m", "type": "t", "param": None, "code": None}})
    assert anthropic_error.is_valid({"type": "error", "error": {"type": "invalid_request_error", "message": "m"}})


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/messages"])
def test_streaming_routes_publish_their_event_streams(schema: dict[str, Any], path: str) -> None:
    success = schema["paths"][path]["post"]["responses"]["200"]["content"]
    assert set(success) == {"application/json", "text/event-stream"}
    assert success["text/event-stream"]["schema"]["required"] == ["data"]
