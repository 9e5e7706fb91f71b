"""Reading a JSON request body with a size limit; failures are Quarry errors, rendered by each dialect.

Which declared types are read as JSON: `application/json` and any `+json` type; no Content-Type at all (raw HTTP
clients omit it; the OpenAI and Anthropic SDKs always send `application/json`); and
`application/x-www-form-urlencoded`, because that is what `curl -d` declares and every "curl -d '{...}'" copied
without its `-H` would otherwise fail; the body must still parse as JSON, and a browser page cannot use that type to
smuggle a request past the key check or the Host/Origin guard. Anything else (text/plain, multipart, XML) is a 415
that says what to send."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from quarry.errors import ClientDisconnected, InvalidRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["MAX_JSON_DEPTH", "json_body", "read_json", "read_model", "request_model_of"]

Model = TypeVar("Model", bound=BaseModel)
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
# Deeper than any real request (tool schemas included); code that walks bodies recursively stays far from Python's
# recursion limit, and a 1,000-level body is a 400, not a 500.
MAX_JSON_DEPTH = 64
_JSON = "application/json"
_READ_AS_JSON = frozenset({_JSON, "application/x-www-form-urlencoded"})


async def read_json(request: Request, limit: int) -> Any:
    """The decoded JSON body; 415 when declared as another type, 413 past `limit` bytes (checked while reading),
    400 when it is not JSON."""
    _check_media_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
    except ClientDisconnect:
        # The client left (or was cut for stalling) mid-body: its doing, logged as a 499, never an unhandled 500.
        raise ClientDisconnected from None
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    # Counting brackets runs at C speed; only a body with enough of them to be that deep is walked.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _depth_exceeds(decoded, MAX_JSON_DEPTH):
        raise InvalidRequest(f"The request body is nested deeper than {MAX_JSON_DEPTH} levels.")
    return decoded


def _check_media_type(declared: str | None) -> None:
    if declared is None:
        return
    media_type = declared.partition(";")[0].strip().lower()
    if media_type in _READ_AS_JSON or (media_type.startswith("application/") and media_type.endswith("+json")):
        return
    raise UnsupportedMediaType(
        f"The request body must be JSON, sent with Content-Type: {_JSON} (it was declared as {declared[:100]!r}).",
        accept=_JSON,
    )


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep (iteratively: no recursion to exhaust)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


_REQUEST_MODELS: dict[Callable[..., Any], type[BaseModel]] = {}


def json_body(model: type[BaseModel]) -> Callable[[Endpoint], Endpoint]:
    """Declares the model an endpoint reads its JSON body as, for the published OpenAPI document. Validation stays
    the endpoint's own (read_model, in its dialect's envelope); this only says what to publish."""

    def declare(endpoint: Endpoint) -> Endpoint:
        _REQUEST_MODELS[endpoint] = model
        return endpoint

    return declare


def request_model_of(endpoint: Callable[..., Any]) -> type[BaseModel] | None:
    """The model `endpoint` declared with `json_body`, if any."""
    return _REQUEST_MODELS.get(endpoint)


def read_model(raw: Any, model: type[Model]) -> Model:
    """Validate a decoded body; the first violation becomes an InvalidRequest naming the field."""
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _invalid(exc: ValidationError) -> InvalidRequest:
    first = exc.errors(include_url=False)[0]
    param = ""
    for part in first["loc"]:
        param += f"[{part}]" if isinstance(part, int) else (f".{part}" if param else str(part))
    return InvalidRequest(f"Invalid value for `{param or 'body'}`: {first['msg']}", param=param or None)
