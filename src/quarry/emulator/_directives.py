"""Per-request directives a prompt can carry, e.g. `[[emulator: throttle]]` or `[[emulator: words=500, delay=200]]`.

`call=NAME {JSON}` makes the model call the tool NAME with exactly those arguments: a client whose tool runs
something (Codex's `exec_command`, a file writer) gets a call it can carry out, which arguments generated from the
tool's schema rarely are. Like `reply=`, it takes the rest of the tag.

Only the last user message is read, so a directive fires once and not again on every later turn. `for=GLOB` limits
the failures a prompt asks for (`throttle`, `error=`, `stream-error=`) to calls whose model id or inference profile,
as called, matches the glob: `[[emulator: throttle, for=us.*]]` throttles a geographic profile and lets the same
prompt through on `global.`, so a gateway's fallbacks and failover can be driven by one prompt. `retry-after=S` adds
a `Retry-After` header to the error (Bedrock sends none; a proxy in front of it may).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

import orjson

from quarry.emulator._errors import BedrockError, ModelStreamErrorException, ThrottlingException, error_by_name

__all__ = ["Directives", "parse_directives", "strip_directives"]

_DIRECTIVE = re.compile(r"\[\[\s*emulator\s*:(?P<body>.*?)\]\]", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Directives:
    error: type[BedrockError] | None = None  # raised instead of answering
    stream_error: type[BedrockError] = ModelStreamErrorException
    stream_error_after: int | None = None  # events sent before an in-stream exception
    delay_ms: float = 0.0
    words: int = 0  # answer with this many filler words
    reply: str | None = None  # answer with exactly this text
    tokens_per_second: float | None = None
    call: tuple[str, dict[str, Any]] | None = None  # (tool name, arguments) to call
    model_glob: str | None = None  # `for=`: the failures apply only to model ids matching this
    retry_after_s: float | None = None  # `retry-after=`: a Retry-After header on the error

    def for_model(self, identifier: str) -> Directives:
        """These directives as they apply to a call of `identifier`: without the failures when `for=` excludes it."""
        if self.model_glob is None or fnmatchcase(identifier, self.model_glob):
            return self
        return replace(self, error=None, stream_error_after=None)


def strip_directives(text: str) -> str:
    return _DIRECTIVE.sub("", text).strip()


def _number(key: str, value: str) -> float:
    try:
        return float(value.removesuffix("ms"))
    except ValueError:
        raise ValueError(f"emulator directive {key}= needs a number, got {value!r}") from None


def _call(text: str) -> tuple[str, dict[str, Any]]:
    name, _, arguments = text.strip().partition(" ")
    name, brace, rest = name.partition("{")  # `call=name{...}` without a space
    arguments = brace + rest + arguments if brace else arguments
    if not name:
        raise ValueError("emulator directive call= needs a tool name, then its arguments as a JSON object")
    try:
        parsed = orjson.loads(arguments.strip() or "{}")
    except orjson.JSONDecodeError:
        raise ValueError(f"emulator directive call={name} needs its arguments as a JSON object") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"emulator directive call={name} needs its arguments as a JSON object")
    return name, parsed


def parse_directives(text: str) -> Directives:
    """Directives found in `text`; an unknown one is a ValueError the caller turns into a ValidationException."""
    fields: dict[str, object] = {}
    for match in _DIRECTIVE.finditer(text):
        body = match.group("body").strip()
        reply_at = body.find("reply=")
        if reply_at >= 0:
            fields["reply"] = body[reply_at + len("reply=") :].strip()
            body = body[:reply_at]
        call_at = body.find("call=")
        if call_at >= 0:
            fields["call"] = _call(body[call_at + len("call=") :])
            body = body[:call_at]
        for item in filter(None, (part.strip() for part in re.split(r"[,;]", body))):
            key, _, value = (s.strip() for s in item.partition("="))
            key = key.lower().replace("_", "-")
            if key == "throttle":
                fields["error"] = ThrottlingException
            elif key in ("error", "stream-error"):
                cls = error_by_name(value)
                if cls is None:
                    raise ValueError(f"emulator directive {key}= names no Bedrock exception: {value!r}")
                fields["error" if key == "error" else "stream_error"] = cls
                if key == "stream-error":
                    fields.setdefault("stream_error_after", 0)
            elif key == "stream-error-after":
                fields["stream_error_after"] = int(_number(key, value))
            elif key == "delay":
                fields["delay_ms"] = _number(key, value)
            elif key == "words":
                fields["words"] = int(_number(key, value))
            elif key == "for":
                if not value:
                    raise ValueError("emulator directive for= needs a model id glob, e.g. for=us.*")
                fields["model_glob"] = value
            elif key == "retry-after":
                fields["retry_after_s"] = _number(key, value)
            elif key in ("tps", "tokens-per-second"):
                fields["tokens_per_second"] = _number(key, value)
            else:
                raise ValueError(f"unknown emulator directive {key!r}")
    return Directives(**fields)  # type: ignore[arg-type]  # keys are the dataclass's own field names
