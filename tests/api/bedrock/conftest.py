"""Quarry served on a real socket over the emulator, with an admin key and team keys made through the admin API;
boto3 clients pointed at it as a user points them: `endpoint_url` and a Quarry key in `AWS_BEARER_TOKEN_BEDROCK`,
and no AWS credentials of their own."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from quarry.emulator import EmulatorApp
from quarry.server import create_app
from quarry.settings import ModelSettings, Settings
from tests.conftest import no_aws_identity, set_aws_environment

ADMIN = "sk-bedrock-admin"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_45_PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
LLAMA3 = "meta.llama3-8b-instruct-v1:0"
HELLO = [{"role": "user", "content": [{"text": "Say hello."}]}]


@dataclass(frozen=True)
class TeamKey:
    secret: str
    id: str
    aws: tuple[str, str] | None = None  # (access key id, secret access key), when issued


@dataclass
class Gateway:
    url: str
    emulator: EmulatorApp

    def key(self, **fields: Any) -> TeamKey:
        """A new team key, made through the admin API."""
        made = httpx.post(
            f"{self.url}/admin/keys", json={"name": "bedrock"} | fields, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert made.status_code == 201, made.text
        body = made.json()
        aws = (body["aws_access_key_id"], body["aws_secret_access_key"]) if "aws_access_key_id" in body else None
        return TeamKey(body["key"], body["id"], aws)

    def usage_of(self, key: TeamKey, *, requests: int) -> dict[str, Any]:
        """The key's row of the admin usage report, once it counts `requests` (rows are written off the request
        path, after the response has ended)."""
        deadline = time.monotonic() + 10
        while True:
            rows = httpx.get(f"{self.url}/admin/usage?by=key", headers={"Authorization": f"Bearer {ADMIN}"}).json()
            row: dict[str, Any] = next((r for r in rows["data"] if r["key"] == key.id), {"requests": 0})
            if row["requests"] >= requests or time.monotonic() > deadline:
                return row
            time.sleep(0.05)

    def calls(self) -> dict[str, int]:
        """The emulator's runtime calls so far, by operation: whether a request reached Bedrock at all (the model
        catalog's own listings, fetched once and cached, aside)."""
        return {op: n for op, n in self.emulator.requests.by_operation.items() if not op.startswith("List")}


@pytest.fixture(scope="module")
def gateway(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    return start_gateway(serve, tmp_path_factory.mktemp("bedrockapi"))


def start_gateway(serve: Any, folder: Path) -> Gateway:
    """Quarry with an admin key and an alias, calling a fresh emulator as its Bedrock, served on real sockets."""
    emulator = EmulatorApp()
    emulator_url = serve(emulator).url
    with pytest.MonkeyPatch.context() as patch:
        set_aws_environment(patch, folder, {"BEDROCK_RUNTIME": emulator_url, "BEDROCK": emulator_url})
        settings = Settings(
            backend="bedrock",
            api_key=ADMIN,  # type: ignore[arg-type]
            data_dir=folder / "data",
            key_cache_ttl_s=0.1,
            models=ModelSettings(aliases={"fast": HAIKU}),
        )
        url = serve(create_app(settings), lifespan="on").url
    return Gateway(url, emulator)


Client = Callable[..., Any]


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Client]:
    """`bedrock(service, key, base_url)`: a boto3 client as a user makes one with only a Quarry key: the key in
    AWS_BEARER_TOKEN_BEDROCK (which botocore reads when it signs), no AWS credentials, retries off."""
    no_aws_identity(monkeypatch, tmp_path)
    made: list[Any] = []

    def client(service: str, key: TeamKey | str, base_url: str, **config: Any) -> Any:
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", key if isinstance(key, str) else key.secret)
        options = {"retries": {"total_max_attempts": 1}, **config}
        created = boto3.client(service, region_name="us-east-1", endpoint_url=base_url, config=Config(**options))
        made.append(created)
        return created

    yield client
    for created in made:
        created.close()


@pytest.fixture
def signed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Client]:
    """`signed(service, (access_key_id, secret), base_url)`: a boto3 client signing with AWS credentials (SigV4)
    that Quarry issued for a team key, as a tool that only signs uses them; no bearer token, retries off."""
    no_aws_identity(monkeypatch, tmp_path)
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    made: list[Any] = []

    def client(service: str, credentials: tuple[str, str], base_url: str, **config: Any) -> Any:
        created = boto3.client(
            service,
            region_name="eu-west-3",  # any region: Quarry checks the signature's service and time, not its region
            endpoint_url=base_url,
            aws_access_key_id=credentials[0],
            aws_secret_access_key=credentials[1],
            config=Config(**{"retries": {"total_max_attempts": 1}, **config}),
        )
        made.append(created)
        return created

    yield client
    for created in made:
        created.close()
