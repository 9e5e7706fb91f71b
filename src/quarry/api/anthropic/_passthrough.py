"""Claude models that Bedrock serves on its own Messages endpoint (`ModelFacts.messages_api`: Opus 4.7 and later):
the caller's request forwarded as written, only `model` changed to the Bedrock id or profile (and image URLs made
base64, which is all Bedrock takes), with its `anthropic-version` and `anthropic-beta` headers, so every Messages
feature works the day Bedrock has it.

Answers come back as Bedrock gave them but for `model`, which names what the caller asked for (Claude Code drops
earlier thinking blocks when the model it is told differs from the one it asked for, and the next turn is then
refused). A stream's events are passed on as their own bytes; only message_start is rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import orjson
from starlette.requests import Request

from quarry.api._sse import named_event
from quarry.api.anthropic._native import betas
from quarry.bedrock import MessagesResponse, ResolvedModel, ServerSentEvent

__all__ = ["DEFAULT_VERSION", "EchoModel", "fallback_betas", "upstream_body", "upstream_headers"]

# Anthropic's API requires the header; Quarry never has, so a request without one gets the version every Bedrock
# example sends, which all Claude models on the endpoint take (docs/bedrock-models-2026.md §2.3).
DEFAULT_VERSION = "2023-06-01"


def upstream_headers(request: Request) -> dict[str, str]:
    """The headers that go to Bedrock as the caller sent them: the API version and every beta flag, unfiltered, so a
    flag works the day Bedrock takes it (see `fallback_betas` for the flags Bedrock refuses)."""
    headers = {"anthropic-version": request.headers.get("anthropic-version") or DEFAULT_VERSION}
    betas = [value for value in request.headers.getlist("anthropic-beta") if value.strip()]
    if betas:
        headers["anthropic-beta"] = ",".join(betas)
    return headers


def fallback_betas(request: Request, accepted: Collection[str]) -> str:
    """The caller's beta flags that Bedrock is known to take (settings' `models.anthropic_betas`), sent instead of
    all of them only if Bedrock refuses a flag it does not know (BedrockRuntime remembers which headers it refused)."""
    return ",".join(betas(",".join(request.headers.getlist("anthropic-beta")), None, accepted))


def upstream_body(raw: dict[str, Any], model: ResolvedModel) -> bytes:
    """The caller's body with `model` naming the Bedrock id or inference profile. Anthropic's `service_tier` (its own
    Priority Tier capacity) means nothing at Bedrock: it is sent as Bedrock's tier header instead (api._core)."""
    return orjson.dumps({**{k: v for k, v in raw.items() if k != "service_tier"}, "model": model.id})


class EchoModel:
    """Renders the endpoint's events for the caller: each as Bedrock sent it, but message_start naming the model
    the caller asked for."""

    def __init__(self, requested: str, tier: Callable[[], str] | None = None) -> None:
        self._requested = requested
        self._tier = tier  # the service tier that served the call, in Anthropic's name for it

    def __call__(self, event: ServerSentEvent) -> list[bytes]:
        if event.name == "message_start":
            data = event.data()  # already parsed for the usage it carries
            if isinstance(data, dict) and isinstance(data.get("message"), dict):
                data["message"]["model"] = self._requested
                if self._tier is not None and isinstance(data["message"].get("usage"), dict):
                    data["message"]["usage"]["service_tier"] = self._tier()
                return [named_event("message_start", data)]
        return [event.raw]

    def message(self, message: MessagesResponse) -> MessagesResponse:
        """A whole answer naming the model the caller asked for (and the tier that served it)."""
        message["model"] = self._requested
        if self._tier is not None and isinstance(message.get("usage"), dict):
            message["usage"]["service_tier"] = self._tier()
        return message
