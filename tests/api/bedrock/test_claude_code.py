"""Claude Code itself (from npm, installed by scripts/test) in Bedrock mode against Quarry over the emulator, with
nothing but a Quarry key: `CLAUDE_CODE_USE_BEDROCK=1`, `ANTHROPIC_BEDROCK_BASE_URL` and `AWS_BEARER_TOKEN_BEDROCK`.
It discovers the inference profiles, checks its models are reachable (InvokeModel), then streams its turns
(InvokeModelWithResponseStream); every call is counted against the key."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx

from tests.api.bedrock.conftest import ADMIN, Gateway


def _claude_code() -> str:
    found = os.environ.get("QUARRY_TEST_CLAUDE_CODE") or shutil.which("claude")
    assert found, "Claude Code is missing: scripts/test installs it (npm install @anthropic-ai/claude-code@2.1.197)"
    return found


def test_claude_code_in_bedrock_mode(gateway: Gateway, tmp_path: Path) -> None:
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
    done = subprocess.run(
        [_claude_code(), "-p", "Say hello."], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    row = gateway.usage_of(key, requests=3)
    assert row["errors"] == 0
    assert row["output_tokens"] > 0
    by_api = httpx.get(f"{gateway.url}/admin/usage?by=api", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    apis = {r["api"] for r in by_api["data"]}
    assert {"bedrock.list_inference_profiles", "bedrock.invoke_model_with_response_stream"} <= apis
