"""The token estimate taken against tokens-per-minute limits before a call: ~4 characters a token of the prompt's
text (media and opaque values left out), plus the output the call may produce."""

from __future__ import annotations

from quarry.api._estimate import estimate_tokens


def test_the_prompts_text_is_counted_at_four_characters_a_token_and_media_is_not() -> None:
    body = {
        "model": "not counted: only the prompt's fields are",
        "system": "x" * 40,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "y" * 36}, {"type": "image_url", "image_url": "z" * 999}],
            },
            {"role": "assistant", "content": "w" * 400, "signature": "s" * 999},
        ],
        "tools": [{"name": "n" * 8, "input_schema": {"properties": {"q": {"type": "string"}}}}],
    }
    text = 40 + len("user") + len("text") + 36 + len("image_url") + len("assistant") + 400 + 8 + len("string")
    assert estimate_tokens(body, 100) == text // 4 + 1 + 100
    assert estimate_tokens(body, -5) == text // 4 + 1  # no output limit known: nothing added
    assert estimate_tokens({"input": [["a" * 8], {"data": "b" * 80}]}, 0) == 8 // 4 + 1
