"""JSON responses, written with orjson: one helper for every route and error envelope of every dialect."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.responses import Response

__all__ = ["json_response"]


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """`body` as `application/json` (orjson: dataclasses, datetimes and numpy-free speed; no pydantic pass)."""
    return Response(orjson.dumps(body), status, headers, media_type="application/json")
