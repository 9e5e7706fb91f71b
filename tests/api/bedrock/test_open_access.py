"""Quarry without keys (loopback development): a Bedrock request with no credentials at all, as Claude Code sends
with CLAUDE_CODE_SKIP_BEDROCK_AUTH, with any bearer token or signed with any AWS credentials, is served, as on the
other routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from quarry.emulator import EmulatorApp
from quarry.server import create_app
from quarry.settings import Settings
from tests.api.bedrock.conftest import HAIKU, HELLO, Client
from tests.conftest import set_aws_environment


@pytest.fixture(scope="module")
def keyless(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    emulator_url = serve(EmulatorApp()).url
    folder: Path = tmp_path_factory.mktemp("bedrock-keyless")
    with pytest.MonkeyPatch.context() as patch:
        set_aws_environment(patch, folder, {"BEDROCK_RUNTIME": emulator_url, "BEDROCK": emulator_url})
        url: str = serve(create_app(Settings(backend="bedrock", data_dir=folder / "data")), lifespan="on").url
    return url


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer anything"}], ids=["no credentials", "any key"])
def test_a_keyless_quarry_serves_bedrock_requests(keyless: str, headers: dict[str, str]) -> None:
    response = httpx.post(f"{keyless}/model/{HAIKU}/converse", json={"messages": HELLO}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["output"]["message"]["content"] == [{"text": 'You said: "Say hello."'}]
    profiles = httpx.get(f"{keyless}/inference-profiles?type=SYSTEM_DEFINED", headers=headers)
    assert profiles.status_code == 200
    assert profiles.json()["inferenceProfileSummaries"]


def test_a_keyless_quarry_serves_requests_signed_with_any_aws_credentials(keyless: str, signed: Client) -> None:
    # Someone's own AWS credentials, as boto3 finds them on a laptop: Quarry issued none, and lets everyone in.
    runtime = signed("bedrock-runtime", ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), keyless)
    answer = runtime.converse(modelId=HAIKU, messages=HELLO)
    assert answer["output"]["message"]["content"] == [{"text": 'You said: "Say hello."'}]
