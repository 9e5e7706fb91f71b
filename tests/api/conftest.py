"""`quarry serve`'s app on a real socket, over the emulator on another, reached through the real AWS code path
(SigV4, endpoint variables); each dialect's tests call it with that API's official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from quarry.emulator import EmulatorApp
from quarry.server import create_app
from quarry.settings import ImageSettings, ModelSettings, Settings
from tests.conftest import png, set_aws_environment

KEY = "sk-test-quarry"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_45_PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
LLAMA3 = "meta.llama3-8b-instruct-v1:0"
MISTRAL_7B = "mistral.mistral-7b-instruct-v0:2"
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    },
}


@dataclass
class Emulator:
    app: EmulatorApp
    url: str


@pytest.fixture(scope="session")
def emulator(serve: Any) -> Emulator:
    app = EmulatorApp()
    return Emulator(app, serve(app).url)


@pytest.fixture(scope="session")
def aws_environment(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """AWS settings as a user would set them to point Quarry at a Bedrock endpoint."""
    with pytest.MonkeyPatch.context() as patch:
        endpoints = {"BEDROCK_RUNTIME": emulator.url, "BEDROCK": emulator.url}
        set_aws_environment(patch, tmp_path_factory.mktemp("aws"), endpoints)
        yield


@pytest.fixture(scope="session")
def image_server(serve: Any) -> str:
    """Images on loopback, allowed by the gateway's explicit test allow-list."""

    async def image(request: Request) -> Response:
        return Response(png(2, 2), media_type="application/octet-stream")  # wrong type on purpose: bytes decide

    async def to_metadata(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    app = Starlette(routes=[Route("/cat.png", image), Route("/redirect", to_metadata)])
    url: str = serve(app).url
    return url


@pytest.fixture(scope="session")
def gateway(serve: Any, aws_environment: None, image_server: str) -> str:
    settings = Settings(
        backend="bedrock",
        api_key=KEY,  # type: ignore[arg-type]
        keepalive_s=0.2,
        images=ImageSettings(allow_hosts=["127.0.0.1"]),
        models=ModelSettings(aliases={"fast": HAIKU, "smart": SONNET_45}),
    )
    url: str = serve(create_app(settings), lifespan="on").url
    return url
