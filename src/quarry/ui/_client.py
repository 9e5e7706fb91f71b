"""The toolbox's only way out: Quarry's OpenAI API (chat, models) and its conversation endpoints, per user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk

from quarry.ui._frames import in_frames

__all__ = ["Delta", "ToolboxClient"]

USER_HEADER = "X-Quarry-User"  # quarry.api.conversations.USER_HEADER, not imported: the UI may run without the server


@dataclass(frozen=True, slots=True)
class Delta:
    """One streamed piece of an answer."""

    text: str = ""
    reasoning: str = ""

    def joined(self, later: Delta) -> Delta:
        return Delta(text=self.text + later.text, reasoning=self.reasoning + later.reasoning)


Efforts = tuple[list[str], str | None]
"""A model's effort levels (adaptive thinking) and its default; `([], None)` for one that thinks with a budget or
not at all."""


def efforts_of(model: dict[str, Any]) -> Efforts:
    """The effort levels in a `/v1/models` entry's Quarry fields."""
    levels = model.get("effort_levels") or []
    default = model.get("default_effort")
    return [str(level) for level in levels], str(default) if default else None


class ToolboxClient:
    """One user's view of a Quarry: the official `openai` SDK, with the user named in `X-Quarry-User`."""

    def __init__(
        self, api_url: str, api_key: str, user: str, http: httpx2.AsyncClient, timeout_s: float = 60.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.efforts: dict[str, Efforts] = {}
        # Kept for the knowledge-base client, which calls the same Quarry with the same key, user and pool.
        self.api_key = api_key or "no-key"
        self.user = user
        self.http = http
        self.openai = openai.AsyncOpenAI(
            base_url=f"{self.api_url}/v1",
            api_key=self.api_key,
            default_headers={USER_HEADER: user},
            http_client=http,
            # The SDK's own default (10 minutes) would override the pool's: a person waits far less.
            timeout=httpx2.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            # No retry: the SDK retries timeouts and refused connections too, which doubles a person's wait
            # for an answer that is not coming; the gateway itself retries Bedrock's throttling.
            max_retries=0,
        )

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        options: dict[str, Any] = {"cast_to": object}  # object: the JSON body, parsed
        if body is not None:
            options["body"] = body
        call = getattr(self.openai, method)
        return await call(path, **options)

    async def models(self) -> list[str]:
        """Chat-capable model ids from `/v1/models` (embedding models left out); their effort levels are kept in
        `efforts`, so the Thinking control needs no call of its own."""
        page = await self.openai.models.list()
        self.efforts = {model.id: efforts_of(model.model_extra or {}) for model in page.data}
        return [model.id for model in page.data if "embed" not in model.id]

    async def effort_levels(self, model: str) -> Efforts:
        """The effort levels one model thinks at, from `/v1/models/{model}` (see `efforts_of`)."""
        return efforts_of((await self.openai.models.retrieve(model)).model_extra or {})

    async def conversations(self) -> list[dict[str, Any]]:
        listing = await self._call("get", "/toolbox/conversations")
        data: list[dict[str, Any]] = listing["data"]
        return data

    async def create_conversation(self, fields: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self._call("post", "/toolbox/conversations", fields)
        return created

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("get", f"/toolbox/conversations/{conversation_id}")
        return found

    async def update_conversation(self, conversation_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        updated: dict[str, Any] = await self._call("patch", f"/toolbox/conversations/{conversation_id}", fields)
        return updated

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._call("delete", f"/toolbox/conversations/{conversation_id}")

    async def user_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = await self._call("get", "/user/settings")
        return settings

    async def save_user_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        saved: dict[str, Any] = await self._call("put", "/user/settings", settings)
        return saved

    def stream(self, model: str, messages: list[dict[str, Any]], **parameters: Any) -> AsyncIterator[Delta]:
        """The answer as it streams, in frames (quarry.ui._frames); closing the iterator (stop button) closes the
        HTTP stream."""
        return in_frames(self._deltas(model, messages, **parameters), Delta.joined)

    async def _deltas(self, model: str, messages: list[dict[str, Any]], **parameters: Any) -> AsyncIterator[Delta]:
        extra: dict[str, Any] = {}
        thinking = parameters.pop("thinking", False)
        if isinstance(thinking, str) and thinking:
            extra["reasoning_effort"] = thinking  # an effort level, on a model with adaptive thinking
        elif thinking:
            extra["reasoning_effort"] = "low"  # on: the smallest useful budget
        top_k = parameters.pop("top_k", None)
        body = {k: v for k, v in parameters.items() if v is not None}
        # The parameters arrive as a dict, so the SDK's overloads cannot see `stream=True` picks the stream type.
        stream = cast(
            openai.AsyncStream[ChatCompletionChunk],
            await self.openai.chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]  # OpenAI message dicts, built by the tabs
                stream=True,
                extra_body={"top_k": top_k} if top_k else None,
                **extra,
                **body,
            ),
        )
        async with stream:
            async for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                reasoning = getattr(delta, "reasoning_content", None) or ""
                if delta.content or reasoning:
                    yield Delta(text=delta.content or "", reasoning=reasoning)

    async def complete(self, model: str, messages: list[dict[str, Any]], **parameters: Any) -> str:
        """A whole answer, for internal steps nobody watches (history compression)."""
        parts = [delta.text async for delta in self.stream(model, messages, **parameters)]
        return "".join(parts)
