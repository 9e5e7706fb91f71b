"""Signatures of reasoning blocks: the model signs its thinking and refuses edited thinking on the next turn."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["sign_omitted", "sign_reasoning", "valid_signature"]

_KEY = b"quarry-emulator-reasoning"  # fixed, so that signatures survive emulator restarts


def sign_reasoning(text: str) -> str:
    digest = hmac.new(_KEY, text.encode(), hashlib.sha256).digest()
    return base64.b64encode(b"EqQB" + digest * 3).decode()


def _omitted_tag(inner: bytes) -> bytes:
    return hmac.new(_KEY, b"omitted" + inner, hashlib.sha256).digest()


def sign_omitted(thought: str) -> str:
    """The signature of thinking returned without its text (`display: omitted`): it vouches for itself, since the
    client sends back an empty text with it."""
    inner = hmac.new(_KEY, thought.encode(), hashlib.sha256).digest()
    return base64.b64encode(b"EqQC" + inner + _omitted_tag(inner) + inner).decode()


def valid_signature(text: str, signature: str) -> bool:
    if hmac.compare_digest(sign_reasoning(text), signature):
        return True
    if text:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
    except ValueError:
        return False
    return len(raw) == 100 and raw[:4] == b"EqQC" and hmac.compare_digest(raw[36:68], _omitted_tag(raw[4:36]))
