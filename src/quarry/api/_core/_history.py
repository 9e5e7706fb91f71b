"""A Converse conversation as Bedrock accepts it, whichever API dialect it was written in.

Bedrock wants: a user turn first, strict user/assistant alternation, every toolUse answered by a toolResult
in the next user turn, tool results before other content, no blank text, and no trailing whitespace at the end
of an assistant prefill.

System messages inside the conversation (`role: system`, on the models that take them: Opus 4.8 and later,
docs/bedrock-models-2026.md §1.4; Converse's ConversationRole has `system` since 2026-05-28, §4) are not turns:
the user/assistant turns are normalised without them, and each goes back after the turn it followed (after the tool
results, when that turn called tools, so no call is parted from its result).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quarry.bedrock import ContentBlock, ConverseMessage, Document, Role, SystemContentBlock, Tool

__all__ = ["ConverseHistory", "empty_schema", "normalise"]

_START = "(start of conversation)"
_NO_RESULT = "(no result was recorded for this tool call)"


def empty_schema() -> Document:
    """A tool with no parameters; a new dict each time, so no request shares (and alters) another's."""
    return {"type": "object", "properties": {}}


@dataclass
class ConverseHistory:
    system: list[SystemContentBlock] = field(default_factory=list)
    messages: list[ConverseMessage] = field(default_factory=list)

    def uses_tools(self) -> bool:
        return any("toolUse" in b or "toolResult" in b for m in self.messages for b in m["content"])

    def tool_specs(self) -> list[Tool]:
        """Bedrock refuses tool blocks in the history without a toolConfig: these describe the tools used."""
        names = sorted({b["toolUse"]["name"] for m in self.messages for b in m["content"] if "toolUse" in b})
        return [{"toolSpec": {"name": name, "inputSchema": {"json": empty_schema()}}} for name in names]


def normalise(turns: list[tuple[Role, list[ContentBlock]]]) -> list[ConverseMessage]:
    conversation: list[tuple[Role, list[ContentBlock]]] = [(role, blocks) for role, blocks in turns if role != "system"]
    merged = _normalise(conversation)
    if len(conversation) == len(turns) or not merged:
        return merged
    return _with_system_messages(turns, merged)


def _with_system_messages(
    turns: list[tuple[Role, list[ContentBlock]]], merged: list[ConverseMessage]
) -> list[ConverseMessage]:
    # Where each turn landed: consecutive turns of one role share a message; a user turn may have been put first.
    offset = 1 if turns and next(r for r, _ in turns if r != "system") == "assistant" else 0
    after: dict[int, list[ContentBlock]] = {}
    index, previous = offset - 1, None
    for role, blocks in turns:
        if role == "system":
            if blocks:
                after.setdefault(max(index, 0), []).extend(blocks)
            continue
        if role != previous:
            index, previous = index + 1, role
    placed: list[ConverseMessage] = []
    pending: list[ContentBlock] = []
    for position, message in enumerate(merged):
        placed.append(message)
        pending.extend(after.get(position, ()))
        calls = message["role"] == "assistant" and any("toolUse" in b for b in message["content"])
        if pending and not calls:
            placed.append({"role": "system", "content": pending})
            pending = []
    pending.extend(block for position in sorted(after) if position >= len(merged) for block in after[position])
    if pending:
        placed.append({"role": "system", "content": pending})
    return placed


def _normalise(turns: list[tuple[Role, list[ContentBlock]]]) -> list[ConverseMessage]:
    merged: list[ConverseMessage] = []
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


def _pair_tools(merged: list[ConverseMessage]) -> None:
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
