"""The console's routes, mounted by the server under /console."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from quarry.admin._key_detail import key_page
from quarry.admin._keys import create_key, keys_page, revoke_key, rotate_key
from quarry.admin._knowledge import knowledge_page
from quarry.admin._models import models_page
from quarry.admin._overview import live, overview, script
from quarry.admin._requests import requests_page
from quarry.admin._signin import sign_in, sign_in_form, sign_out
from quarry.admin._usage import usage_csv, usage_page

__all__ = ["console_routes"]


async def _to_overview(_: Request) -> Response:
    return RedirectResponse("/console/", status_code=307)


def console_routes(prefix: str = "/console") -> list[BaseRoute]:
    """Every page and form of the console, under `prefix`."""
    table: list[tuple[str, object, list[str]]] = [
        ("", _to_overview, ["GET"]),
        ("/", overview, ["GET"]),
        ("/live", live, ["GET"]),
        ("/console.js", script, ["GET"]),
        ("/sign-in", sign_in_form, ["GET"]),
        ("/sign-in", sign_in, ["POST"]),
        ("/sign-out", sign_out, ["POST"]),
        ("/keys", keys_page, ["GET"]),
        ("/keys", create_key, ["POST"]),
        ("/keys/{key_id}", key_page, ["GET"]),
        ("/keys/{key_id}/rotate", rotate_key, ["POST"]),
        ("/keys/{key_id}/revoke", revoke_key, ["POST"]),
        ("/usage", usage_page, ["GET"]),
        ("/usage.csv", usage_csv, ["GET"]),
        ("/models", models_page, ["GET"]),
        ("/requests", requests_page, ["GET"]),
        ("/knowledge", knowledge_page, ["GET"]),
    ]
    return [Route(prefix + path, endpoint, methods=methods) for path, endpoint, methods in table]  # type: ignore[arg-type]  # each is an endpoint
