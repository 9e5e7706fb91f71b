"""Token arrays → text. OpenAI's `/v1/embeddings` and `/v1/completions` take their input as token ids of the
tokenizer the OpenAI model name implies, and clients use that: LangChain's `OpenAIEmbeddings` sends token arrays by
default. Bedrock's models take text, so the ids are decoded first.

The vocabularies come from quicktok's wheel (the `tokens` extra; MIT), which ships cl100k_base and o200k_base and
reads nothing else: tiktoken would download its `.tiktoken` files on first use, and Quarry downloads nothing at run
time. quicktok's ids are tiktoken's (tests/api/openai/test_token_arrays.py checks them against tiktoken's own)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, cast

from quarry.errors import InvalidRequest

__all__ = ["MISSING_EXTRA", "Input", "Vocabulary", "encoding_for", "texts", "vocabulary"]

Encoding = Literal["cl100k_base", "o200k_base"]
Input: TypeAlias = str | list[str] | list[int] | list[list[int]]  # OpenAI's `input` and `prompt`
MISSING_EXTRA = "Token-array input needs the tokens extra: pip install 'quarry[tokens]' (or send text)."
# Models whose tokenizer is o200k_base, as tiktoken's own table has them (tiktoken/model.py, MODEL_TO_ENCODING and
# MODEL_PREFIX_TO_ENCODING, tiktoken 0.14); gpt-oss's o200k_harmony only adds special tokens to o200k_base. Every
# other name, OpenAI's embedding models and davinci-002 included, is cl100k_base, which is also what LangChain falls
# back to for a model name tiktoken does not know (a Bedrock id, an alias).
_O200K_NAMES = ("o1", "o3", "o4", "gpt-5", "gpt-4.1", "gpt-4.5", "gpt-4o", "chatgpt-4o", "gpt-oss", "ft:gpt-4o")
_LARGEST_ID = 2**32  # larger values are no token of any vocabulary; refused before the tokenizer sees them


def encoding_for(model: str) -> Encoding:
    """The tokenizer an OpenAI model name implies."""
    name = model.lower()
    if any(name == prefix or name.startswith((prefix + "-", prefix + ":", prefix + ".")) for prefix in _O200K_NAMES):
        return "o200k_base"
    return "cl100k_base"


class Vocabulary:
    """One tokenizer's vocabulary, loaded: ids → text."""

    def __init__(self, encoding: Encoding, tokenizer: Any) -> None:  # Any: quicktok ships no type information
        self.encoding = encoding
        self._tokenizer = tokenizer

    def decode(self, tokens: Sequence[int], param: str) -> str:
        """The text of `tokens`; an id outside the vocabulary is a 400 naming its place."""
        if not tokens:
            raise InvalidRequest(f"`{param}` is an empty token array: it must hold at least one token.", param=param)
        for index, token in enumerate(tokens):
            if not 0 <= token < _LARGEST_ID:
                raise _unknown(token, self.encoding, f"{param}[{index}]")
        try:
            # Invalid UTF-8 (a character cut by a chunk boundary, as LangChain splits long texts) becomes U+FFFD.
            return str(self._tokenizer.decode(list(tokens), errors="replace"))
        except KeyError:
            for index, token in enumerate(tokens):  # only on the error path: name the first id at fault
                try:
                    self._tokenizer.decode([token])
                except KeyError:
                    raise _unknown(token, self.encoding, f"{param}[{index}]") from None
            raise


async def vocabulary(model: str, param: str) -> Vocabulary:
    """The vocabulary `model` implies; without the `tokens` extra, a 400 that names it."""
    try:
        import quicktok  # the `tokens` extra, imported on the first token array
    except ImportError as missing:
        raise InvalidRequest(MISSING_EXTRA, param=param) from missing
    encoding = encoding_for(model)
    # The first call reads the vocabulary (most of a second): off the event loop. quicktok keeps it loaded.
    return Vocabulary(encoding, await asyncio.to_thread(quicktok.get_encoding, encoding))


def _unknown(token: int, encoding: str, where: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid token id {token} at `{where}`: not in the {encoding} vocabulary.", param=where, code="invalid_token"
    )


async def texts(value: Input, model: str, param: str, *, limit: int, limit_note: str = "") -> list[str]:
    """The texts of an `input` or `prompt`: a string, a token array, or a list of either (at most `limit`),
    token arrays decoded in the vocabulary `model` implies; an empty one is a 400 naming it."""
    items: list[str] | list[list[int]]
    if isinstance(value, str):
        items = [value]
    elif value and all(isinstance(item, int) for item in value):
        items = [cast(list[int], value)]
    else:
        items = cast(list[str] | list[list[int]], value)
    if len(items) > limit:  # before anything else is looked at, let alone sent upstream
        raise InvalidRequest(
            f"{param} has {len(items)} items; the limit is {limit} per request{limit_note}.",
            param=param,
            code=f"too_many_{param}s",
        )
    if not items:
        raise InvalidRequest(f"{param} is empty: send a string, a list of strings or token arrays.", param=param)
    found: list[str] = []
    known: Vocabulary | None = None
    for index, item in enumerate(items):
        where = param if items is not value else f"{param}[{index}]"
        if isinstance(item, str):
            text = item
        else:
            known = known or await vocabulary(model, where)
            text = known.decode(cast(list[int], item), where)
        if not text.strip():
            raise InvalidRequest(f"{where} is empty; every {param} must contain text.", param=where)
        found.append(text)
    return found
