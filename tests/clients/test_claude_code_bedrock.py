"""Claude Code itself (from npm, each pinned version: conftest.py) in Bedrock mode against Quarry on the emulator, with
nothing but a Quarry key: `CLAUDE_CODE_USE_BEDROCK=1`, `ANTHROPIC_BEDROCK_BASE_URL` and either the key as
`AWS_BEARER_TOKEN_BEDROCK` (2.1.197) or the AWS credentials Quarry issued for it, which it signs with as the AWS SDK
for JavaScript does (2.1.332). It discovers the inference profiles, checks its models are reachable (InvokeModel),
then streams its turns (InvokeModelWithResponseStream); every call is counted against the key."""

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
    key = gateway.key(models=["*anthropic.claude-*"], aws=True)
    assert key.aws is not None
    identity = (
        {"AWS_BEARER_TOKEN_BEDROCK": key.secret}
        if version == "2.1.197"
        else {"AWS_ACCESS_KEY_ID": key.aws[0], "AWS_SECRET_ACCESS_KEY": key.aws[1]}
    )
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_", "CLAUDE_"))}
        | identity
        | {
            "HOME": str(tmp_path),
            "CLAUDE_CODE_USE_BEDROCK": "1",
            "ANTHROPIC_BEDROCK_BASE_URL": gateway.url,
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "none"),  # no profile of the machine's: only the identity above
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
        }
    )
    if version == "2.1.197":
        # Thinking stays on. 2.1.197 drops the signed thinking blocks of an earlier turn whose `model` (from its
        # message_start) is not the string it asks for; Bedrock's InvokeModel answers with Anthropic's name
        # (`claude-sonnet-4-5-20250929`), the emulator likewise, while 2.1.197 asks for its default by the profile id.
        # Its tool round then lacks the thinking Bedrock requires ("a final `assistant` message must start with a
        # thinking block"), against Bedrock itself too. Pinned by Anthropic's name (which it maps to the profile id
        # for the path), the names match and the thinking goes back; 2.1.332 compares canonical model names.
        env["ANTHROPIC_MODEL"] = "claude-sonnet-4-5-20250929"
    before = gateway.calls().get("InvokeModelWithResponseStream", 0)  # the module's emulator serves both versions
    done = subprocess.run(
        [str(claude), "-p", "Say hello."], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    row = gateway.usage_of(key, requests=3)
    # 2.1.332's first streamed turn carries the `thinking-token-count-2026-05-13` beta in `anthropic_beta`, which is
    # not among the flags Bedrock documents for Claude: "invalid beta flag" (400), once; Claude Code then drops the
    # flag for the conversation and sends the turn again (its own recovery, logged as "[thinking-token-count] server
    # rejected the beta"). The relay passes the body as sent, so the refusal is Bedrock's (here the emulator's).
    assert row["errors"] == (0 if version == "2.1.197" else 1)
    assert row["output_tokens"] > 0
    streamed = gateway.calls()["InvokeModelWithResponseStream"] - before
    # 2.1.197: the emulator's answer calls Claude Code's tools, so a second turn went back with the tool results and,
    # thinking on, the signed thinking it needs. 2.1.332: its refused first turn, then that turn sent again without
    # the flag (it asks for no tool round; counted across both versions, as this test once did, that was hidden).
    assert streamed >= 2
    by_api = httpx.get(f"{gateway.url}/admin/usage?by=api", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    apis = {r["api"] for r in by_api["data"]}
    assert {"bedrock.list_inference_profiles", "bedrock.invoke_model_with_response_stream"} <= apis
