"""The AWS CLI with nothing but a Quarry key (AWS_BEARER_TOKEN_BEDROCK) and the endpoint variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.api.bedrock.conftest import HAIKU, Gateway

AWS = Path(sys.executable).with_name("aws")


def _aws(gateway: Gateway, key: str | tuple[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The AWS CLI with a Quarry key as its bearer token, or (access key id, secret) it signs with."""
    empty = tmp_path / "none"
    empty.write_text("")
    identity = (
        {"AWS_BEARER_TOKEN_BEDROCK": key}
        if isinstance(key, str)
        else {"AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1]}
    )
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        | identity
        | {
            "AWS_DEFAULT_REGION": "us-east-1",  # the AWS CLI v1 reads this one, not AWS_REGION
            "AWS_CONFIG_FILE": str(empty),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": gateway.url,
            "AWS_ENDPOINT_URL_BEDROCK": gateway.url,
        }
    )
    return subprocess.run([str(AWS), *args], capture_output=True, text=True, env=env, timeout=60)


def test_the_aws_cli_lists_and_converses_with_a_quarry_key(gateway: Gateway, tmp_path: Path) -> None:
    key = gateway.key(models=["anthropic.claude-3-haiku-*"])
    listed = _aws(gateway, key.secret, tmp_path, "bedrock", "list-foundation-models")
    assert listed.returncode == 0, listed.stderr
    assert [m["modelId"] for m in json.loads(listed.stdout)["modelSummaries"]] == [HAIKU]
    messages = json.dumps([{"role": "user", "content": [{"text": "Say hello."}]}])
    answer = _aws(
        gateway, key.secret, tmp_path, "bedrock-runtime", "converse", "--model-id", HAIKU, "--messages", messages
    )
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["output"]["message"]["content"] == [{"text": 'You said: "Say hello."'}]
    refused = _aws(
        gateway,
        key.secret,
        tmp_path,
        "bedrock-runtime",
        "converse",
        "--model-id",
        "meta.llama3-8b-instruct-v1:0",
        "--messages",
        messages,
    )
    assert refused.returncode != 0
    assert "AccessDeniedException" in refused.stderr
    assert "may not use the model `meta.llama3-8b-instruct-v1:0`" in refused.stderr


def test_the_aws_cli_signs_with_issued_aws_credentials(gateway: Gateway, tmp_path: Path) -> None:
    key = gateway.key(models=["anthropic.claude-3-haiku-*"], aws=True)
    assert key.aws is not None
    listed = _aws(gateway, key.aws, tmp_path, "bedrock", "list-foundation-models")
    assert listed.returncode == 0, listed.stderr
    assert [m["modelId"] for m in json.loads(listed.stdout)["modelSummaries"]] == [HAIKU]
    messages = json.dumps([{"role": "user", "content": [{"text": "Say hello."}]}])
    answer = _aws(
        gateway, key.aws, tmp_path, "bedrock-runtime", "converse", "--model-id", HAIKU, "--messages", messages
    )
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["output"]["message"]["content"] == [{"text": 'You said: "Say hello."'}]
    wrong = _aws(gateway, (key.aws[0], "wrong" * 8), tmp_path, "bedrock", "list-foundation-models")
    assert wrong.returncode != 0
    assert "InvalidSignatureException" in wrong.stderr
