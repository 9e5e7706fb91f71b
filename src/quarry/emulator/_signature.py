"""Signatures of reasoning blocks: the model signs its thinking and refuses edited thinking on the next turn."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["sign_reasoning", "valid_signature"]

_KEY = b"quarry-emulator-reasoning"  # fixed, so that signatures survive emulator restarts


def sign_reasoning(text: str) -> str:
    digest = hmac.new(_KEY, text.encode(), hashlib.sha256).digest()
    return base64.b64encode(b"EqQB" + digest * 3).decode()


def valid_signature(text: str, signature: str) -> bool:
    return hmac.compare_digest(sign_reasoning(text), signature)
