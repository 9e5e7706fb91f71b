"""A Converse conversation as Bedrock accepts it, whichever API dialect it was written in.

Bedrock wants: a user turn first, strict user/assistant alternation, every toolUse answered by a toolResult
in the next user turn, no blank text, no trailing whitespace at the end of an assistant prefill, and only the
features the model has (cache points, system prompts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quarry.bedrock import ResolvedModel

__all__ = ["CACHE_POINT", "ConverseHistory", "fit_to_model", "normalise", "reasoning_fields", "top_k_fields"]

CACHE_POINT: dict[str, Any] = {"cachePoint": {"type": "default"}}
_START = "(start of conversation)"
_NO_RESULT = "(no result was recorded for this tool call)"
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass
class ConverseHistory:
    system: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def uses_tools(self) -> bool:
        return any("toolUse" in b or "toolResult" in b for m in self.messages for b in m["content"])

    def tool_specs(self) -> list[dict[str, Any]]:
        """Bedrock refuses tool blocks in the history without a toolConfig: these describe the tools used."""
        names = sorted({b["toolUse"]["name"] for m in self.messages for b in m["content"] if "toolUse" in b})
        return [{"toolSpec": {"name": name, "inputSchema": {"json": _EMPTY_SCHEMA}}} for name in names]


def normalise(turns: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    for role, blocks in turns:
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"].extend(blocks)
        else:
            merged.append({"role": role, "content": list(blocks)})
    if merged and merged[0]["role"] == "assistant":
        merged.insert(0, {"role": "user", "content": [{"text": _START}]})
    _pair_tools(merged)
    for message in merged:
        if message["role"] == "user":
            # Bedrock wants tool results before any other content of the turn.
            message["content"].sort(key=lambda block: "toolResult" not in block)
    last = merged[-1] if merged else None
    if last and last["role"] == "assistant" and "text" in last["content"][-1]:
        last["content"][-1] = {"text": last["content"][-1]["text"].rstrip()}
        if not last["content"][-1]["text"]:
            last["content"].pop()
            if not last["content"]:
                merged.pop()
    return merged


def _pair_tools(merged: list[dict[str, Any]]) -> None:
    """Every toolUse gets a toolResult in the next turn; results with no call become plain text."""
    for index, message in enumerate(merged):
        if message["role"] == "assistant":
            calls = [b["toolUse"]["toolUseId"] for b in message["content"] if "toolUse" in b]
            if not calls:
                continue
            if index + 1 == len(merged):
                merged.append({"role": "user", "content": []})
            following = merged[index + 1]["content"]
            answered = {b["toolResult"]["toolUseId"] for b in following if "toolResult" in b}
            following.extend(
                {"toolResult": {"toolUseId": call, "content": [{"text": _NO_RESULT}]}}
                for call in calls
                if call not in answered
            )
        else:
            previous = merged[index - 1]["content"] if index else []
            called = {b["toolUse"]["toolUseId"] for b in previous if "toolUse" in b}
            for position, block in enumerate(message["content"]):
                result = block.get("toolResult")
                if result and result["toolUseId"] not in called:
                    text = " ".join(part.get("text", "") for part in result["content"])
                    message["content"][position] = {"text": f"Result of tool call {result['toolUseId']}: {text}"}


def fit_to_model(model: ResolvedModel, body: dict[str, Any]) -> None:
    """Remove what the model would refuse: cache points where it cannot cache, a system prompt where it takes none
    (the instructions then open the first user turn)."""
    if model.facts.known and not model.facts.caches_prompts:
        body["system"] = [b for b in body.get("system", ()) if "cachePoint" not in b]
        for message in body["messages"]:
            message["content"] = [b for b in message["content"] if "cachePoint" not in b]
        tools = body.get("toolConfig", {}).get("tools")
        if tools:
            body["toolConfig"]["tools"] = [t for t in tools if "cachePoint" not in t]
    if body.get("system") and model.facts.known and not model.facts.has("system"):
        text = "\n\n".join(b["text"] for b in body["system"] if "text" in b)
        body["messages"][0]["content"].insert(0, {"text": text})
        body["system"] = []


def top_k_fields(model: ResolvedModel, top_k: int, fields: dict[str, Any]) -> None:
    """top_k in `additionalModelRequestFields` where the model takes it (Nova nests it; Llama has none)."""
    if model.base_id.startswith("amazon.nova"):
        fields.setdefault("inferenceConfig", {})["topK"] = top_k
    elif not model.base_id.startswith("meta."):
        fields["top_k"] = top_k


def reasoning_fields(model: ResolvedModel, level: str, fields: dict[str, Any]) -> None:
    """A reasoning level (low, medium, high) in the request fields of the non-Claude models that reason."""
    if model.base_id.startswith("openai."):
        fields["reasoning_effort"] = level
    elif model.base_id.startswith("amazon.nova"):
        fields["reasoningConfig"] = {"type": "enabled", "maxReasoningEffort": level}
