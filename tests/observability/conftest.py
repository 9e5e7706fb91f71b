"""A gateway over the in-process emulator, exporting its traces to an OTLP receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarry.server import create_app
from quarry.settings import BedrockSettings, EmulatorSettings, Settings, TracingSettings
from tests.observability.otlp import Receiver

KEY = "sk-test-tracing"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="package")
def receiver(serve: Any) -> tuple[Receiver, str]:
    received = Receiver()
    return received, serve(received.app()).url + "/v1/traces"


def gateway_with_tracing(
    serve: Any, folder: Path, endpoint: str, *, content: bool = False, emulator: EmulatorSettings | None = None
) -> str:
    settings = Settings(
        backend="emulator",
        api_key=KEY,  # type: ignore[arg-type]
        data_dir=folder,
        keepalive_s=0.2,
        emulator=emulator or EmulatorSettings(),
        bedrock=BedrockSettings(max_attempts=2),
        tracing=TracingSettings(
            otlp_endpoint=endpoint, export_delay_ms=20, content=content, service_name="quarry-test"
        ),
    )
    url: str = serve(create_app(settings), lifespan="on").url
    return url


@pytest.fixture(scope="package")
def gateway(serve: Any, receiver: tuple[Receiver, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    return gateway_with_tracing(serve, tmp_path_factory.mktemp("tracing"), receiver[1])


@pytest.fixture(scope="package")
def client(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{gateway}/v1", headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        yield client
