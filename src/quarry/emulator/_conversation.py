"""A validated request, whichever API it came through: what the responder answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from quarry.emulator._catalog import Resolved
from quarry.emulator._tokens import count_tokens

__all__ = ["Attachment", "Conversation", "ToolSpec", "input_tokens"]

_MESSAGE_OVERHEAD = 4  # role markers and separators, as real chat templates add
_IMAGE_TOKENS_PER_KB = 1.4  # roughly what Claude charges for a typical screenshot


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # "image" | "document" | "video" | "audio"
    format: str
    size: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    schema: dict[str, Any]


@dataclass(slots=True)
class Conversation:
    """Converse-shaped messages plus the settings that shape the answer."""

    resolved: Resolved
    messages: list[dict[str, Any]]
    system: list[str] = field(default_factory=list)
    max_tokens: int = 0
    stop_sequences: list[str] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: str = "auto"  # "auto" | "any" | "tool"
    tool_choice_name: str = ""
    thinking_budget: int = 0
    thinking: str | None = None  # "enabled" | "adaptive" | "between_tools"; None: no thinking
    thinking_display: str = "summarized"  # "omitted": thinking comes back as a signature without its text
    effort: str | None = None
    json_schema: dict[str, Any] | None = None
    # (digest of everything before it, tokens before it) for each cache point, in order
    cache_points: tuple[tuple[str, int], ...] = ()
    input_tokens: int = 0

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message["role"] == "user":
                return " ".join(b["text"] for b in message["content"] if "text" in b)
        return ""

    @property
    def last_tool_results(self) -> list[dict[str, Any]]:
        if not self.messages or self.messages[-1]["role"] != "user":
            return []
        return [b["toolResult"] for b in self.messages[-1]["content"] if "toolResult" in b]

    def attachments(self) -> list[Attachment]:
        """Images and documents of the last user turn, in order."""
        if not self.messages or self.messages[-1]["role"] != "user":
            return []
        found = []
        for block in self.messages[-1]["content"]:
            for kind in ("image", "document", "video", "audio"):
                if kind in block:
                    item = block[kind]
                    found.append(Attachment(kind, item.get("format", ""), item.get("_size", 0), item.get("name", "")))
        return found


def _block_tokens(block: dict[str, Any]) -> int:
    if "text" in block:
        return count_tokens(block["text"])
    if "image" in block:
        return max(85, int(block["image"].get("_size", 0) / 1024 * _IMAGE_TOKENS_PER_KB))
    if "document" in block:
        return max(50, int(block["document"].get("_size", 0)) // 4)
    if "video" in block or "audio" in block:
        return 1000
    if "toolUse" in block:
        tool_use = block["toolUse"]
        return 8 + count_tokens(tool_use["name"]) + count_tokens(orjson.dumps(tool_use.get("input", {})).decode())
    if "toolResult" in block:
        return 8 + sum(_block_tokens(_result_as_block(c)) for c in block["toolResult"].get("content", []))
    if "reasoningContent" in block:
        text = block["reasoningContent"].get("reasoningText", {}).get("text", "")
        return count_tokens(text)
    return 0


def _result_as_block(content: dict[str, Any]) -> dict[str, Any]:
    if "json" in content:
        return {"text": orjson.dumps(content["json"]).decode()}
    return content


def input_tokens(
    system: list[dict[str, Any]], messages: list[dict[str, Any]], tools: list[ToolSpec]
) -> tuple[int, tuple[tuple[str, int], ...]]:
    """Total input tokens, and the digest and tokens of the prefix before each cache point."""
    tool_texts = [
        tool.name + tool.description + orjson.dumps(tool.schema, option=orjson.OPT_SORT_KEYS).decode() for tool in tools
    ]
    total = sum(10 + count_tokens(text) for text in tool_texts)
    items: list[tuple[int, dict[str, Any]]] = [(0, block) for block in system]
    for message in messages:
        items.extend((_MESSAGE_OVERHEAD if i == 0 else 0, block) for i, block in enumerate(message["content"]))
    digest = hashlib.blake2b("".join(tool_texts).encode(), digest_size=16)
    points: list[tuple[str, int]] = []
    for overhead, block in items:
        total += overhead
        if "cachePoint" in block:
            points.append((digest.hexdigest(), total))
        else:
            total += _block_tokens(block)
        digest.update(orjson.dumps(block, option=orjson.OPT_SORT_KEYS, default=str))
    return total, tuple(points)
