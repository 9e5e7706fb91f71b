"""Reading a JSON request body with a size limit; failures are Quarry errors, rendered by each dialect."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from quarry.errors import InvalidRequest, PayloadTooLarge

__all__ = ["read_json", "read_model"]

Model = TypeVar("Model", bound=BaseModel)


async def read_json(request: Request, limit: int) -> Any:
    """The decoded JSON body; 413 past `limit` bytes (checked while reading), 400 when it is not JSON."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None


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
