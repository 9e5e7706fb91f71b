"""Chat memory: what is sent to the model each turn, and compression of older turns into a summary.

As NextChat does: once the turns not yet summarised exceed a token threshold, all but the most recent few are
summarised by the model (together with the previous summary), and from then on the summary is sent as context
in place of those turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quarry.ui._split import estimate_tokens

__all__ = ["Compression", "plan_compression", "request_messages", "summary_request", "text_of"]

_SUMMARY_INSTRUCTION = (
    "Summarise the conversation below in under 200 words, as notes for yourself to continue it: keep names, facts, "
    "decisions, open questions and the user's preferences. Write only the summary."
)


def text_of(content: str | list[dict[str, Any]]) -> str:
    """The text of a message's content; images count as a short marker."""
    if isinstance(content, str):
        return content
    texts = [part.get("text", "") if part.get("type") == "text" else "[image]" for part in content]
    return " ".join(texts)


def _tokens(messages: list[dict[str, Any]]) -> int:
    return sum(estimate_tokens(text_of(message["content"])) + 4 for message in messages)


def request_messages(system: str, memory: str, messages: list[dict[str, Any]], upto: int) -> list[dict[str, Any]]:
    """The messages sent to the model: style, memory of the summarised turns, then the turns after them."""
    prompt = system
    if memory:
        prompt = f"{prompt}\n\nSummary of the earlier conversation:\n{memory}".strip()
    sent: list[dict[str, Any]] = [{"role": "system", "content": prompt}] if prompt else []
    sent += [{"role": m["role"], "content": m["content"]} for m in messages[upto:] if m["role"] != "system"]
    return sent


@dataclass(frozen=True, slots=True)
class Compression:
    """Summarise messages[start:end] (with the previous memory) and move `memory_upto` to `end`."""

    start: int
    end: int


def plan_compression(messages: list[dict[str, Any]], upto: int, *, threshold: int, keep: int) -> Compression | None:
    """What to summarise, when the unsummarised turns exceed `threshold` tokens; None when nothing needs it."""
    pending = messages[upto:]
    if _tokens(pending) <= threshold or len(pending) <= keep:
        return None
    end = len(messages) - keep
    # Start the kept part on a user turn, so the messages sent still alternate from a user message.
    while end < len(messages) and messages[end]["role"] != "user":
        end += 1
    if end <= upto or end >= len(messages):
        return None
    return Compression(start=upto, end=end)


def summary_request(memory: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One user message holding the previous memory and the turns to fold into it."""
    lines = [f"Earlier summary: {memory}"] if memory else []
    lines += [f"{m['role']}: {text_of(m['content'])}" for m in messages]
    transcript = "\n".join(lines)
    return [{"role": "user", "content": f"{_SUMMARY_INSTRUCTION}\n\n<conversation>\n{transcript}\n</conversation>"}]
