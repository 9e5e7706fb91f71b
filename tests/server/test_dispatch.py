"""The routes served from a table in front of FastAPI's stack: each (path, method) the table holds is the route
Starlette's router would pick, and every other request still takes the long way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match, Mount, Route

from quarry.server import create_app
from quarry.server._dispatch import Dispatch, Gateway, hot_routes
from quarry.settings import Settings


async def _a(request: Request) -> Response:
    return PlainTextResponse("a")


async def _b(request: Request) -> Response:
    return PlainTextResponse("b")


def test_an_exact_path_an_earlier_route_matches_is_not_in_the_table() -> None:
    routes = [Route("/x/{rest:path}", _a, methods=["POST"]), Route("/x/y", _b, methods=["POST", "GET"])]
    exact, prefixes = hot_routes(routes, [(r.path, r) for r in routes])
    assert ("/x/y", "POST") not in exact  # the catch-all before it wins, as in Starlette's router
    assert exact[("/x/y", "GET")].endpoint is _b  # the catch-all takes POST only: GET falls to the exact route
    assert [(prefix, route.endpoint) for prefix, route in prefixes] == [("/x/", _a)]


def test_a_catch_all_after_a_route_that_may_overlap_it_is_not_in_the_table() -> None:
    routes = [
        Mount("/m", routes=[]),
        Route("/m/{rest:path}", _a),
        Route("/p/{id}", _b),
        Route("/p/{rest:path}", _a),
        Route("/q/{rest:path}", _a),
    ]
    _, prefixes = hot_routes(routes, [])
    assert [prefix for prefix, _ in prefixes] == ["/q/"]


def test_every_entry_of_the_gateway_table_is_the_route_starlette_picks(tmp_path: Path) -> None:
    app = create_app(Settings(backend="emulator", data_dir=tmp_path))
    assert isinstance(app, Gateway)
    stack = app.build_middleware_stack()
    assert isinstance(stack, Dispatch)
    assert ("/v1/chat/completions", "POST") in stack.exact
    assert ("/v1/messages", "POST") in stack.exact
    assert ("/v1/responses", "POST") in stack.exact
    assert "/model/" in dict(stack.prefixes)
    for (path, method), hot in stack.exact.items():
        scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
        picked = next(child for route in app.router.routes if (child := route.matches(scope))[0] is Match.FULL)
        assert picked[1]["endpoint"] is hot.endpoint, (path, method)


def test_the_table_serves_its_routes_and_the_rest_goes_the_long_way(serve: Any, tmp_path: Path) -> None:
    settings = Settings(backend="emulator", data_dir=tmp_path, api_key="sk-dispatch")  # type: ignore[arg-type]
    url = serve(create_app(settings), lifespan="on").url
    headers = {"authorization": "Bearer sk-dispatch"}
    # A hot route's refusal is rendered by the app's handlers, in the caller's envelope, with the Exchange's id.
    refused = httpx.post(f"{url}/v1/chat/completions", json={"model": 1}, headers=headers, timeout=30)
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert refused.headers["x-request-id"]
    # The path with a method it does not take: FastAPI's stack answers, 405 naming what it takes.
    wrong = httpx.get(f"{url}/v1/chat/completions", headers=headers, timeout=30)
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["type"] == "invalid_request_error"
    # A catch-all route gets its path parameter.
    model = httpx.get(f"{url}/v1/models/anthropic.claude-3-haiku-20240307-v1:0", headers=headers, timeout=30)
    assert model.status_code == 200
    assert model.json()["id"] == "anthropic.claude-3-haiku-20240307-v1:0"
    # An unknown API path: the long way's 404, in the API's envelope.
    missing = httpx.post(f"{url}/v1/nothing", headers=headers, timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No route for POST /v1/nothing."


def test_a_hot_route_reads_headers_as_starlette_does(serve: Any, tmp_path: Path) -> None:
    settings = Settings(backend="emulator", data_dir=tmp_path, api_key="sk-dispatch")  # type: ignore[arg-type]
    url = serve(create_app(settings), lifespan="on").url
    body = {"model": "anthropic.claude-3-haiku-20240307-v1:0", "messages": [{"role": "user", "content": "Hi"}]}
    with httpx.Client(base_url=url, timeout=30) as client:
        # Of a repeated header the first counts, whatever the case of its name: the right key first is let in...
        first = [("Authorization", "Bearer sk-dispatch"), ("authorization", "Bearer sk-wrong")]
        assert client.post("/v1/chat/completions", json=body, headers=first).status_code == 200
        # ...and the wrong key first is not.
        wrong_first = [("authorization", "Bearer sk-wrong"), ("AUTHORIZATION", "Bearer sk-dispatch")]
        assert client.post("/v1/chat/completions", json=body, headers=wrong_first).status_code == 401
        # An absent Authorization: the key is read from x-api-key (as Anthropic's clients send it).
        assert client.post("/v1/chat/completions", json=body, headers={"x-api-key": "sk-dispatch"}).status_code == 200
        # A header read by name in any case: a declared type that is not JSON is refused.
        typed = {"authorization": "Bearer sk-dispatch", "Content-Type": "text/plain"}
        assert client.post("/v1/chat/completions", json=body, headers=typed).status_code == 415
