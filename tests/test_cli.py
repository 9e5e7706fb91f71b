"""The `quarry` command as a user runs it: version, help, and the emulator answering the AWS CLI and LangChain."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from quarry import __version__

QUARRY = [sys.executable, "-m", "quarry"]
AWS = Path(sys.executable).with_name("aws")
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "us-east-1"}


def test_version_and_help() -> None:
    version = subprocess.run([*QUARRY, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"quarry, version {__version__}"
    helptext = subprocess.run([*QUARRY, "--help"], capture_output=True, text=True, check=True).stdout
    assert "emulator" in helptext


def test_bad_option_is_a_usage_error() -> None:
    result = subprocess.run([*QUARRY, "emulator", "--fault-rate", "2"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "fault_rate" in result.stderr


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[str]:
    """`quarry emulator --port 0` in its own process; yields the URL from its banner."""
    process = subprocess.Popen(
        [*QUARRY, "emulator", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", banner)
    assert match, banner
    yield match.group(0)
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()


def test_aws_cli_converses_through_the_endpoint_variable(emulator_process: str) -> None:
    env = os.environ | FAKE_AWS | {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator_process}
    messages = json.dumps([{"role": "user", "content": [{"text": "Hello from the CLI"}]}])
    result = subprocess.run(
        [str(AWS), "bedrock-runtime", "converse", "--model-id", "anthropic.claude-3-haiku-20240307-v1:0",
         "--messages", messages],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    response = json.loads(result.stdout)
    assert response["output"]["message"]["content"] == [{"text": 'You said: "Hello from the CLI"'}]


def test_aws_cli_lists_models_with_endpoint_url(emulator_process: str) -> None:
    env = os.environ | FAKE_AWS
    result = subprocess.run(
        [str(AWS), "bedrock", "list-foundation-models", "--endpoint-url", emulator_process, "--by-provider", "meta"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    summaries = json.loads(result.stdout)["modelSummaries"]
    assert summaries
    assert {m["providerName"] for m in summaries} == {"Meta"}
