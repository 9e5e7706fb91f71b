"""Bedrock's own paths, routed on the raw (still percent-encoded) path as Bedrock routes them: a model id may be
an ARN holding `/`, sent encoded by every AWS SDK. The same paths answer under `/bedrock`, for tools whose base
URL must carry a path. Every answer here, a 404 included, is in Bedrock's shape."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quarry.api.bedrock._control import foundation_model, foundation_models, inference_profile, inference_profiles
from quarry.api.bedrock._errors import UNKNOWN_OPERATION, error_response
from quarry.api.bedrock._runtime import MESSAGES_PATH, messages, runtime_operation
from quarry.errors import NotFound, QuarryError
from quarry.exchange import exchange_of

__all__ = ["PATH_PREFIXES", "PREFIX", "routes"]

log = logging.getLogger("quarry")
PREFIX = "/bedrock"
_RUNTIME = re.compile(
    rb"^/model/(?P<model>[^/].*)/(?P<op>converse-stream|converse|invoke-with-response-stream|invoke|count-tokens)$"
)
_FOUNDATION_MODELS = re.compile(rb"^/foundation-models(?:/(?P<id>[^/]+))?/?$")
_INFERENCE_PROFILES = re.compile(rb"^/inference-profiles(?:/(?P<id>[^/]+))?/?$")
# Where Bedrock's paths begin: every answer under them, Quarry's refusals included, is in Bedrock's shape.
PATH_PREFIXES = ("/model/", "/anthropic/", "/foundation-models", "/inference-profiles", PREFIX)
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _decoded(raw: bytes) -> str:
    return unquote(raw.decode("latin-1"))


async def _dispatch(request: Request) -> Response:
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.split(b"?", 1)[0]
    if path == PREFIX.encode() or path.startswith(PREFIX.encode() + b"/"):
        path = path[len(PREFIX) :] or b"/"
    method = request.method
    if method == "POST":
        if runtime := _RUNTIME.match(path):
            return await runtime_operation(request, _decoded(runtime["model"]), runtime["op"].decode())
        if path == MESSAGES_PATH.encode():
            return await messages(request)
    if method == "GET":
        if models := _FOUNDATION_MODELS.match(path):
            identifier = models["id"]
            return await (foundation_model(request, _decoded(identifier)) if identifier else foundation_models(request))
        if profiles := _INFERENCE_PROFILES.match(path):
            identifier = profiles["id"]
            if identifier:
                return await inference_profile(request, _decoded(identifier))
            return await inference_profiles(request)
    raise NotFound(f"No operation matches {method} {path.decode('latin-1')}.", code=UNKNOWN_OPERATION)


async def bedrock_api(request: Request) -> Response:
    """Every Bedrock path: Quarry's errors rendered as Bedrock renders its own."""
    try:
        return await _dispatch(request)
    except QuarryError as error:
        exchange_of(request).fail(error)
        return error_response(error)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        failure = QuarryError("Quarry failed to handle the request; see the server log.")
        exchange_of(request).fail(failure)
        return error_response(failure)


_PATHS = (
    "/model/{rest:path}",
    MESSAGES_PATH,
    "/foundation-models",
    "/foundation-models/{rest:path}",
    "/inference-profiles",
    "/inference-profiles/{rest:path}",
)
# Plain Starlette routes, outside the OpenAPI document (Bedrock's own API is documented by AWS); under the prefix,
# every path is Bedrock's, so its unknown paths are Bedrock's 404s too.
routes = [
    Route(path, bedrock_api, methods=_METHODS, include_in_schema=False)
    for path in (*_PATHS, PREFIX, f"{PREFIX}/{{rest:path}}")
]
