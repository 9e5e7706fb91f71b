"""Converse answers → OpenAI's legacy `text_completion` objects: whole (`text_completion`) or as SSE chunks
(`TextChunkWriter`). The shapes are OpenAI's Completion object, "the same shape streamed and not" (API reference,
Completions: https://developers.openai.com/api/docs/api-reference/completions; openai-python's
types/completion.py and completion_choice.py): `id`, `object`, `created`, `model`, `system_fingerprint`, `choices`
of `text`, `index`, `logprobs`, `finish_reason` (`stop`, `length` or `content_filter`), and `usage`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from quarry.api._core import Usage
from quarry.api.openai._calls import ChatCall
from quarry.api.openai._render import DONE, completion, finish_reason, usage
from quarry.bedrock import ConverseResponse, ConverseStreamEvent

__all__ = ["TextChunkWriter", "text_completion"]


def _finish(chat_reason: str) -> str:
    # No tools are offered to a text completion, so a tool call cannot end one; the legacy API has no such reason.
    return "stop" if chat_reason == "tool_calls" else chat_reason


def _header(model: str) -> dict[str, Any]:
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
    }


def text_completion(calls: Sequence[ChatCall], answers: Sequence[ConverseResponse]) -> dict[str, Any]:
    """The whole text_completion for each prompt's Converse answer, one choice per prompt in order."""
    choices: list[dict[str, Any]] = []
    total = Usage()
    for index, (call, answer) in enumerate(zip(calls, answers, strict=True)):
        chat = completion(call.plan, answer)["choices"][0]  # the chat rules (JSON, tool answers) read it once
        text = chat["message"]["content"] or ""
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": _finish(chat["finish_reason"])}
        if call.turn is not None:
            choice["sources"] = call.sources(text)
        choices.append(choice)
        total += Usage.from_converse(answer.get("usage"))
    return {**_header(calls[0].plan.model.id), "choices": choices, "usage": usage(total)}


class TextChunkWriter:
    """Turns (prompt index, ConverseStream event) pairs into `data: {text_completion}` SSE lines."""

    def __init__(self, calls: Sequence[ChatCall], *, include_usage: bool) -> None:
        self._calls = calls
        self._include_usage = include_usage
        self._head = _header(calls[0].plan.model.id)
        # OpenAI: with include_usage, every chunk but the usage chunk carries `"usage": null`.
        head = {**self._head, "usage": None} if include_usage else self._head
        self._prefix = orjson.dumps(head)[:-1] + b',"choices":['
        self.usage = Usage()  # the prompts' tokens so far; the usage chunk reports them all

    def _chunk(self, index: int, text: str, finish: str | None = None, **extra: Any) -> bytes:
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish, **extra}
        return b"data: " + self._prefix + orjson.dumps(choice) + b"]}\n\n"

    def event(self, item: tuple[int, ConverseStreamEvent]) -> list[bytes]:
        """The SSE lines for one prompt's event: its text, and its finish reason when it stops; thinking is not
        part of a text completion."""
        index, event = item
        if "contentBlockDelta" in event:
            text = event["contentBlockDelta"].get("delta", {}).get("text")
            return [self._chunk(index, text)] if text else []
        if "messageStart" in event:
            sources = self._calls[index].sources()
            return [self._chunk(index, "", sources=sources)] if sources is not None else []
        if "messageStop" in event:
            reason = finish_reason(event["messageStop"].get("stopReason"), self._calls[index].plan)
            return [self._chunk(index, "", _finish(reason))]
        if "metadata" in event:
            self.usage += Usage.from_converse(event["metadata"].get("usage"))
        return []

    def finish(self) -> bytes:
        """After the last prompt: the usage chunk (with `stream_options.include_usage`), then `[DONE]`."""
        if not self._include_usage:
            return DONE
        last = {**self._head, "choices": [], "usage": usage(self.usage)}  # choices empty, as OpenAI sends it
        return b"data: " + orjson.dumps(last) + b"\n\n" + DONE
