"""Anthropic's API versions as Bedrock takes them: `2023-06-01` everywhere, `2026-10-21` for Claude 4.7 and later
(docs/bedrock-models-2026.md §2.1: "On Amazon Bedrock, it's available for Claude 4.7 and later models"), named in
the Messages endpoint's `anthropic-version` header or in an InvokeModel body's `anthropic_version` (the anthropic SDK
2.x's AnthropicBedrock puts its API version there; Bedrock's own `bedrock-2023-05-31` is the older spelling)."""

from __future__ import annotations

from typing import Any

from quarry.emulator._errors import ValidationException

__all__ = ["KNOWN_VERSIONS", "V2026_10_21", "check_2026_10_21"]

KNOWN_VERSIONS = ("2023-06-01", "2026-10-21")
V2026_10_21 = "2026-10-21"
_SAMPLING = ("temperature", "top_p", "top_k")


def _user_citations(block: Any) -> bool:
    """A user text block with non-empty `citations`, directly or inside a `search_result` block."""
    if not isinstance(block, dict):
        return False
    if block.get("type") == "text":
        return bool(block.get("citations"))
    if block.get("type") == "search_result":
        return any(_user_citations(inner) for inner in block.get("content") or [])
    return False


def check_2026_10_21(body: dict[str, Any]) -> None:
    """The breaking changes of API version 2026-10-21 (docs/bedrock-models-2026.md §2.1), only under that header.
    The messages are ours: the migration guide names the rules, not their wording."""
    for name in _SAMPLING:
        if name in body:  # refused "even if the value is the default"
            raise ValidationException(
                f"{name}: Extra inputs are not permitted (removed in anthropic-version 2026-10-21)"
            )
    for i, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            continue
        for j, block in enumerate(message["content"]):
            if message.get("role") == "assistant" and isinstance(block, dict) and block.get("type") == "document":
                raise ValidationException(
                    f"messages.{i}.content.{j}: `document` blocks are not allowed in assistant messages in "
                    "anthropic-version 2026-10-21"
                )
            if message.get("role") == "user" and _user_citations(block):
                raise ValidationException(
                    f"messages.{i}.content.{j}: `citations` on text blocks in user messages are not allowed in "
                    "anthropic-version 2026-10-21"
                )
