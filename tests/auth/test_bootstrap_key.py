"""The bootstrap (admin) key read at start-up from Secrets Manager or SSM Parameter Store, through botocore's
credential chain and the standard endpoint variables, against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from quarry.emulator import EmulatorApp
from quarry.server import create_app
from quarry.settings import Settings
from tests.conftest import ServerThread, set_aws_environment

KEY_IN_SECRET = "sk-from-secrets-manager"
KEY_IN_PARAMETER = "sk-from-parameter-store"


@pytest.fixture(scope="module")
def aws(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    emulator = EmulatorApp(
        secrets={"quarry/api-key": '{"api_key": "%s"}' % KEY_IN_SECRET},  # noqa: UP031  # JSON braces
        parameters={"/quarry/api-key": KEY_IN_PARAMETER},
    )
    url = serve(emulator).url
    with pytest.MonkeyPatch.context() as patch:
        set_aws_environment(patch, tmp_path_factory.mktemp("aws"), {"SECRETS_MANAGER": url, "SSM": url})
        yield


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ({"api_key_secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:quarry/api-key"}, KEY_IN_SECRET),
        ({"api_key_ssm_parameter": "/quarry/api-key"}, KEY_IN_PARAMETER),
    ],
)
def test_bootstrap_key_from_aws(aws: None, setting: dict[str, str], key: str) -> None:
    with ServerThread(create_app(Settings(backend="emulator", **setting)), lifespan="on") as server:  # type: ignore[arg-type]
        admin = httpx.get(f"{server.url}/admin/keys", headers={"Authorization": f"Bearer {key}"})
        assert admin.status_code == 200
        assert httpx.get(f"{server.url}/v1/models", headers={"Authorization": "Bearer other"}).status_code == 401


async def test_a_missing_secret_stops_the_start(aws: None) -> None:
    app = create_app(Settings(backend="emulator", api_key_secret_id="nope"))
    with pytest.raises(ClientError, match=r"ResourceNotFoundException.*GetSecretValue"):
        async with app.router.lifespan_context(app):
            pass
