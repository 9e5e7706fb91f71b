"""Reasoning blocks both ways: a signed thinking block (Anthropic's shape, which the OpenAI dialect's
`thinking_blocks` share) ⇄ Converse's reasoningContent. The signature travels untouched: Claude checks it when
the block comes back on the next turn."""

from __future__ import annotations

from quarry.bedrock import ContentBlock, MessagesRedactedThinkingBlock, MessagesThinkingBlock, ReasoningContentBlock

__all__ = ["redacted_reasoning", "signed_reasoning", "thinking_block"]


def signed_reasoning(text: str, signature: str) -> ContentBlock:
    return {"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}}


def redacted_reasoning(data: str) -> ContentBlock:
    return {"reasoningContent": {"redactedContent": data}}


def thinking_block(reasoning: ReasoningContentBlock) -> MessagesThinkingBlock | MessagesRedactedThinkingBlock:
    if "redactedContent" in reasoning:
        return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
    text = reasoning.get("reasoningText")
    if text is None:
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "thinking", "thinking": text.get("text", ""), "signature": text.get("signature", "")}
