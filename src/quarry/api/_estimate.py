"""A request's token cost before it is made, for tokens-per-minute limits: its text at ~4 characters a token plus
the output it may produce (`max_tokens`); the difference is settled when the real usage is known."""

from __future__ import annotations

from typing import Any

__all__ = ["estimate_tokens"]

# Media and opaque values: sizes of their own that say nothing of their tokens.
_SKIP = frozenset({"data", "bytes", "url", "image_url", "signature", "source"})


def _characters(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_characters(v) for k, v in value.items() if k not in _SKIP)
    if isinstance(value, list):
        return sum(_characters(v) for v in value)
    return 0


def estimate_tokens(body: dict[str, Any], max_output: int) -> int:
    prompt = sum(_characters(body.get(key)) for key in ("messages", "system", "tools", "input"))
    return prompt // 4 + 1 + max(0, max_output)
