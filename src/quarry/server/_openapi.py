"""The published OpenAPI document, built from the routers the app includes.

The dialects add plain Starlette routes (they read and validate their bodies themselves, in each API's error
envelope), so FastAPI's generator sees none of them and `/openapi.json` listed no paths. This walks the same routers
the app mounts, under the same prefixes, so every route is published and none can be forgotten."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.routing import Route

from quarry.api import request_model_of

__all__ = ["openapi_document"]

_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# The one route whose body is not JSON: knowledge-base uploads are multipart files.
_MULTIPART = "/knowledge-bases/{name}/documents"
_ERROR = {"description": "An error, in the caller's API envelope (OpenAI's, or Anthropic's on /messages)."}


def _component(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """A reference to `model` in `components`, added with its nested definitions. Those are named after the model
    that holds them: both dialects have a `Message`, and they are not the same."""
    owner = model.__name__
    schema = model.model_json_schema(ref_template=f"#/components/schemas/{owner}__{{model}}")
    for name, definition in schema.pop("$defs", {}).items():
        components[f"{owner}__{name}"] = definition
    components[owner] = schema
    return {"$ref": f"#/components/schemas/{owner}"}


def _operation(prefix: str, route: Route, path: str, method: str, components: dict[str, Any]) -> dict[str, Any]:
    doc = (route.endpoint.__doc__ or "").strip()
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}{re.sub(r'[^0-9A-Za-z]+', '_', path).rstrip('_')}",
        "summary": doc.splitlines()[0] if doc else route.name.replace("_", " "),
        "tags": [prefix.strip("/").replace("/", " ") or "quarry"],
        "responses": {"200": {"description": "Success."}, "default": _ERROR},
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAMETER.findall(route.path)
    ]
    if parameters:
        operation["parameters"] = parameters
    if method in _WITH_BODY:
        media: dict[str, Any]
        if route.path == _MULTIPART:
            files = {"type": "array", "items": {"type": "string", "format": "binary"}}
            media = {"multipart/form-data": {"schema": {"type": "object", "properties": {"files": files}}}}
        else:
            model = request_model_of(route.endpoint)
            body: dict[str, Any] = _component(model, components) if model is not None else {"type": "object"}
            media = {"application/json": {"schema": body}}
        operation["requestBody"] = {"required": True, "content": media}
    return operation


def openapi_document(title: str, version: str, routers: Sequence[tuple[str, APIRouter]]) -> dict[str, Any]:
    """OpenAPI 3.1 for every route of `routers`, each `(prefix, router)` as the app includes it, plus /health."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {
        "/health": {
            "get": {
                "operationId": "get_health",
                "summary": "Liveness, the version and the backend.",
                "security": [],
                "responses": {"200": {"description": "Success."}},
            }
        }
    }
    for prefix, router in routers:
        for route in router.routes:
            if not isinstance(route, Route) or not route.include_in_schema or not route.methods:
                continue
            path = prefix + _PARAMETER.sub(r"{\1}", route.path)
            for method in sorted(route.methods - {"HEAD"}):
                paths.setdefault(path, {})[method.lower()] = _operation(prefix, route, path, method, components)
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
