"""Mid-conversation `{"role": "system"}` messages for a model that does not take them.

Claude Opus 4.8 and later take system messages anywhere in a Messages conversation (docs/bedrock-models-2026.md
§1.4); older models refuse the role. For those, each system message's text joins the user turn next to it — the
one before it (where Claude Code puts it: after a user turn, often the last message), else the one after it —
wrapped in `<system-reminder>` tags, the form Claude models already read as instructions from the harness rather
than from the user. Its place in the conversation is kept, so is its meaning ("from here on"), and the prompt-cache
prefix (tools, the top-level system, earlier turns) stays the same from one turn to the next; folding it into the
top-level system would change that prefix with every new system message. Only a system message with no user turn
on either side (before the first message, or after a final assistant turn) joins the top-level system, after what
is there, so the system's first block (Claude Code's attribution block) stays first.
"""

from __future__ import annotations

from typing import Any

from quarry.errors import InvalidRequest

__all__ = ["fold_system_messages"]

Block = dict[str, Any]
_OPEN, _CLOSE = "<system-reminder>\n", "\n</system-reminder>"


def _text_blocks(message: Block, index: int) -> list[Block]:
    content = message.get("content")
    blocks: list[Any] = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or ())
    for b, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            where = f"messages.{index}.content.{b}"
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise InvalidRequest(
                f"{where}: a `{kind}` block in a system message needs a model that takes mid-conversation system "
                "messages (Claude Opus 4.8 and later); this one takes their text only.",
                param=where,
            )
    return [{k: v for k, v in block.items() if k in ("type", "text", "cache_control")} for block in blocks]


def _reminder(block: Block) -> Block:
    return {**block, "text": _OPEN + block["text"] + _CLOSE}


def _with(message: Block, blocks: list[Block], *, before: bool) -> Block:
    content = message.get("content")
    own: list[Any] = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or ())
    if not before:
        return {**message, "content": own + blocks}
    # Tool results open a user turn (Bedrock requires it): the reminder goes right after them.
    at = next(
        (i for i, block in enumerate(own) if not (isinstance(block, dict) and block.get("type") == "tool_result")),
        len(own),
    )
    return {**message, "content": own[:at] + blocks + own[at:]}


def fold_system_messages(messages: list[Block]) -> tuple[list[Block], list[Block]]:
    """The conversation without system messages, their text in the neighbouring user turns; and the text blocks
    that found no user turn, for the end of the top-level system. A message marked `clear_at: next_user_message`
    is dropped once a user turn follows it, as the model would no longer be shown it."""
    folded: list[Block] = []
    waiting: list[Block] = []  # system text for the next user turn, or for the top-level system if none comes
    for i, message in enumerate(messages):
        role = message.get("role")
        if role != "system":
            if waiting and role == "user":
                message, waiting = _with(message, [_reminder(b) for b in waiting], before=True), []
            folded.append(message)
            continue
        if message.get("clear_at") == "next_user_message" and any(m.get("role") == "user" for m in messages[i + 1 :]):
            continue
        blocks = _text_blocks(message, i)
        if folded and folded[-1].get("role") == "user":
            folded[-1] = _with(folded[-1], [_reminder(b) for b in blocks], before=False)
        else:
            waiting += blocks
    return folded, waiting


def top_level_system(system: Any, extra: list[Block]) -> Any:
    """`system` (a string, blocks or nothing) with `extra` text blocks after what is there."""
    if not extra:
        return system
    if isinstance(system, str):
        return [{"type": "text", "text": system}, *extra]
    return [*(system or ()), *extra]
