"""Claude Code's Bedrock mode as it calls Bedrock (docs/bedrock-models-2026.md §5): profile discovery with
`type=SYSTEM_DEFINED`, then InvokeModelWithResponseStream with Claude's body (`anthropic_beta` list, cached system
blocks, tools, thinking) and an encoded profile id, and CountTokens for `/context`: each relayed as sent."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
from botocore.eventstream import EventStreamBuffer

from tests.api.bedrock.conftest import SONNET_45_PROFILE, Gateway

BODY: dict[str, Any] = {
    "anthropic_version": "bedrock-2023-05-31",
    "anthropic_beta": ["interleaved-thinking-2025-05-14"],
    "max_tokens": 2048,
    "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
    "tools": [
        {
            "name": "Bash",
            "description": "Runs a command.",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
        }
    ],
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}],
}


def _events(raw: bytes) -> list[dict[str, Any]]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [json.loads(base64.b64decode(json.loads(m.payload)["bytes"])) for m in buffer]


def test_claude_codes_calls(gateway: Gateway) -> None:
    key = gateway.key(models=["*anthropic.claude-sonnet-4-5*"])
    headers = {"Authorization": f"Bearer {key.secret}", "User-Agent": "claude-cli/2.1.197 (external, cli)"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as client:
        profiles = client.get("/inference-profiles", params={"type": "SYSTEM_DEFINED"}).json()
        assert SONNET_45_PROFILE in [p["inferenceProfileId"] for p in profiles["inferenceProfileSummaries"]]
        model = quote(SONNET_45_PROFILE, safe="")
        streamed = client.post(
            f"/model/{model}/invoke-with-response-stream",
            content=json.dumps(BODY),
            headers={"Content-Type": "application/json", "X-Amzn-Bedrock-Accept": "application/json"},
        )
        assert streamed.status_code == 200, streamed.text
        assert streamed.headers["content-type"] == "application/vnd.amazon.eventstream"
        events = _events(streamed.content)
        kinds = [event["type"] for event in events]
        assert kinds[0] == "message_start"
        assert kinds[-1] == "message_stop"
        assert "thinking_delta" in {e["delta"]["type"] for e in events if e["type"] == "content_block_delta"}
        counted = client.post(
            "/model/anthropic.claude-sonnet-4-5-20250929-v1:0/count-tokens",
            json={"input": {"invokeModel": {"body": base64.b64encode(json.dumps(BODY).encode()).decode()}}},
        )
        assert counted.status_code == 200, counted.text
        assert counted.json()["inputTokens"] > 0
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    row = gateway.usage_of(key, requests=3)
    assert row["output_tokens"] == metrics["outputTokenCount"] > 0
