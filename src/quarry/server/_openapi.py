"""The published OpenAPI document, built from the routers the app includes.

The dialects add plain Starlette routes (they read and validate their bodies themselves, in each API's error
envelope), so FastAPI's generator sees none of them and `/openapi.json` listed no paths. This walks the same routers
the app mounts, under the same prefixes, so every route is published and none can be forgotten. Request bodies are
the models endpoints declare with `json_body`, success bodies those they declare with `answers`, and every error is
the caller's envelope: Anthropic's on /messages, OpenAI's elsewhere (or Anthropic's for a caller that sends
`anthropic-version`), so clients and the fuzz test (tests/server/test_fuzz.py) can validate what comes back."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.routing import Route

from quarry.api import answer_of, anthropic, openai, request_model_of

__all__ = ["openapi_document"]

_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# The one route whose body is not JSON: knowledge-base uploads are multipart files.
_MULTIPART = "/knowledge-bases/{name}/documents"
# One event of a stream, as a client parses text/event-stream (OpenAPI before 3.2: `schema` describes each event).
_EVENT = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["data"],
    "description": "One server-sent event; `data` is a JSON document (OpenAI's stream ends with `[DONE]`).",
}
# What an upload reads: files under either name, comma-separated tags and a JSON object of metadata for them all.
_FILES = {"type": "array", "items": {"type": "string", "format": "binary"}}
_UPLOAD = {
    "type": "object",
    "properties": {
        "file": _FILES,
        "files": _FILES,
        "tags": {"type": "string", "description": "Comma-separated tags for every file."},
        "metadata": {"type": "string", "description": "A JSON object, the metadata of every file."},
    },
}
# The headers Anthropic's clients send, which the Anthropic routes read.
_ANTHROPIC_HEADERS = [
    {"name": "anthropic-version", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "anthropic-beta", "in": "header", "required": False, "schema": {"type": "string"}},
]
_HEALTH = {
    "type": "object",
    "properties": {
        "status": {"const": "ok"},
        "version": {"type": "string"},
        "backend": {"type": "string"},
        "region": {"type": ["string", "null"]},
    },
    "required": ["status", "version", "backend"],
}


def _component(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """A reference to `model` in `components`, added with its nested definitions. Those are named after the model
    that holds them: both dialects have a `Message`, and they are not the same."""
    owner = model.__name__
    schema = model.model_json_schema(ref_template=f"#/components/schemas/{owner}__{{model}}")
    for name, definition in schema.pop("$defs", {}).items():
        components[f"{owner}__{name}"] = definition
    components[owner] = schema
    return {"$ref": f"#/components/schemas/{owner}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(anthropic_route: bool, components: dict[str, Any]) -> dict[str, Any]:
    """The error response of a route: Anthropic's envelope on its own routes, else OpenAI's or Anthropic's."""
    anthropic_envelope = _component(anthropic.AnthropicError, components)
    if anthropic_route:
        return {"description": "An error, in Anthropic's envelope.", "content": _json(anthropic_envelope)}
    either = {"anyOf": [_component(openai.OpenAIError, components), anthropic_envelope]}
    description = "An error, in OpenAI's envelope (Anthropic's for a caller that sends `anthropic-version`)."
    return {"description": description, "content": _json(either)}


def _responses(route: Route, anthropic_route: bool, components: dict[str, Any]) -> dict[str, Any]:
    answer = answer_of(route.endpoint)
    if answer is None:
        # No declared answer: some 2xx (201 for what a POST creates), its body not published.
        success: tuple[str, dict[str, Any]] = ("2XX", {"description": "Success."})
    else:
        content = _json(_component(answer.model, components))
        if answer.streams:
            content["text/event-stream"] = {"schema": _EVENT}
        success = (str(answer.status), {"description": "Success.", "content": content})
    return dict([success, ("default", _errors(anthropic_route, components))])


def _operation(
    prefix: str, route: Route, path: str, method: str, anthropic_route: bool, components: dict[str, Any]
) -> dict[str, Any]:
    doc = (route.endpoint.__doc__ or "").strip()
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}{re.sub(r'[^0-9A-Za-z]+', '_', path).rstrip('_')}",
        "summary": doc.splitlines()[0] if doc else route.name.replace("_", " "),
        "tags": [prefix.strip("/").replace("/", " ") or "quarry"],
        "responses": _responses(route, anthropic_route, components),
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAMETER.findall(route.path)
    ]
    if anthropic_route:
        parameters += _ANTHROPIC_HEADERS
    if parameters:
        operation["parameters"] = parameters
    if method in _WITH_BODY:
        media: dict[str, Any]
        if route.path == _MULTIPART:
            media = {"multipart/form-data": {"schema": _UPLOAD}}
        else:
            model = request_model_of(route.endpoint)
            body: dict[str, Any] = _component(model, components) if model is not None else {"type": "object"}
            media = {"application/json": {"schema": body}}
        operation["requestBody"] = {"required": True, "content": media}
    return operation


def openapi_document(
    title: str, version: str, routers: Sequence[tuple[str, APIRouter]], *, anthropic_paths: tuple[str, ...]
) -> dict[str, Any]:
    """OpenAPI 3.1 for every route of `routers`, each `(prefix, router)` as the app includes it, plus /health; paths
    starting with one of `anthropic_paths` answer errors in Anthropic's envelope."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {
        "/health": {
            "get": {
                "operationId": "get_health",
                "summary": "Liveness, the version and the backend.",
                "security": [],
                "responses": {"200": {"description": "Success.", "content": _json(_HEALTH)}},
            }
        }
    }
    for prefix, router in routers:
        for route in router.routes:
            if not isinstance(route, Route) or not route.include_in_schema or not route.methods:
                continue
            path = prefix + _PARAMETER.sub(r"{\1}", route.path)
            for method in sorted(route.methods - {"HEAD"}):
                operation = _operation(prefix, route, path, method, path.startswith(anthropic_paths), components)
                paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},  # how Anthropic's clients send it
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }
