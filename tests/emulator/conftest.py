"""Fixtures for the emulator: one running emulator and real AWS clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from quarry.emulator import EmulatorApp, EmulatorConfig

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
CREDENTIALS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG"}
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="session")
def emulator_url(serve: Callable[[Any], Any]) -> str:
    return str(serve(EmulatorApp(EmulatorConfig())).url)


def client(service: str, url: str, region: str = "us-east-1") -> Any:
    return boto3.client(service, endpoint_url=url, region_name=region, config=NO_RETRIES, **CREDENTIALS)


@pytest.fixture(scope="session")
def runtime(emulator_url: str) -> Iterator[Any]:
    """boto3's bedrock-runtime client, retries off so that every error surfaces as it was sent."""
    runtime = client("bedrock-runtime", emulator_url)
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def bedrock(emulator_url: str) -> Iterator[Any]:
    bedrock = client("bedrock", emulator_url)
    yield bedrock
    bedrock.close()


def user(text: str, *blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}, *blocks]}
