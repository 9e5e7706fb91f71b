"""Claude Code itself (from npm, each pinned version: conftest.py) in Bedrock mode against Quarry on the emulator, with
nothing but a Quarry key: `CLAUDE_CODE_USE_BEDROCK=1`, `ANTHROPIC_BEDROCK_BASE_URL` and `AWS_BEARER_TOKEN_BEDROCK`.
It discovers the inference profiles, checks its models are reachable (InvokeModel), then streams its turns
(InvokeModelWithResponseStream); every call is counted against the key."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.bedrock.conftest import ADMIN, Gateway, start_gateway


@pytest.fixture(scope="module")
def bedrock_gateway(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    return start_gateway(serve, tmp_path_factory.mktemp("claude-code-bedrock"))


def test_claude_code_in_bedrock_mode(bedrock_gateway: Gateway, claude_code: tuple[str, Path], tmp_path: Path) -> None:
    gateway = bedrock_gateway
    version, claude = claude_code
    key = gateway.key(models=["*anthropic.claude-*"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_", "CLAUDE_"))} | {
        "HOME": str(tmp_path),
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "ANTHROPIC_BEDROCK_BASE_URL": gateway.url,
        "AWS_BEARER_TOKEN_BEDROCK": key.secret,
        "AWS_REGION": "us-east-1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        # With thinking on, Claude Code's second turn sends an assistant message starting with text, which the
        # emulator refuses under Bedrock's rule for a thinking conversation's history — the same 400 when Claude
        # Code talks to the emulator directly, so not the relay's doing; thinking is not what this test is about.
        "MAX_THINKING_TOKENS": "0",
    }
    if version != "2.1.197":
        # Its default, Opus 5.5, always thinks: thinking disabled is a 400 there, as on Bedrock.
        env.pop("MAX_THINKING_TOKENS")
    done = subprocess.run(
        [str(claude), "-p", "Say hello."], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    row = gateway.usage_of(key, requests=3)
    # 2.1.332's first streamed turn is refused once (a ValidationException) and sent again in a form the model takes,
    # as it does against Bedrock; what it first sends is not yet known (issue 18's notes).
    assert row["errors"] == (0 if version == "2.1.197" else 1)
    assert row["output_tokens"] > 0
    by_api = httpx.get(f"{gateway.url}/admin/usage?by=api", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    apis = {r["api"] for r in by_api["data"]}
    assert {"bedrock.list_inference_profiles", "bedrock.invoke_model_with_response_stream"} <= apis
