"""The toolbox's client of Quarry's knowledge-base API (`/v1/knowledge-bases`): JSON calls and the two SSE streams.

Failures are raised as the `openai` SDK's exceptions (built from Quarry's OpenAI-shaped error envelope), so the
page turns them into sentences the same way as every other tab's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import openai
import orjson

from quarry.ui._client import USER_HEADER, ToolboxClient

__all__ = ["Event", "KnowledgeClient"]

Event = tuple[str, dict[str, Any]]  # (SSE event name, its JSON data)

_STATUS_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}
# The `type` of an error that arrives inside a stream, as the status it would have had before the stream began.
_TYPE_STATUS = {
    "authentication_error": 401,
    "permission_error": 403,
    "rate_limit_error": 429,
    "upstream_error": 502,
    "server_error": 500,
}


def _status_error(response: httpx2.Response, body: Any) -> openai.APIStatusError:
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    status = response.status_code
    kind = _STATUS_ERRORS.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return kind(str(message or f"HTTP {status}"), response=response, body=body)


def _stream_error(response: httpx2.Response, body: Any) -> openai.APIStatusError:
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    status = _TYPE_STATUS.get(str(kind), 400 if kind == "invalid_request_error" else 500)
    return _status_error(httpx2.Response(status, json=body, request=response.request), body)


async def _events(response: httpx2.Response) -> AsyncIterator[Event]:
    """Server-sent events as (name, data); an `error` event is raised."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line:
            field, _, value = line.partition(":")
            if field == "event":
                name = value.strip()
            elif field == "data":
                data.append(value.removeprefix(" "))
            continue  # comments (keep-alives) and other fields carry nothing for us
        if data:
            body = orjson.loads("\n".join(data))
            if name == "error":
                raise _stream_error(response, body)
            yield name, body
        name, data = "message", []


class KnowledgeClient:
    """One user's view of Quarry's knowledge bases: the same URL, key, user and connection pool as the toolbox."""

    def __init__(self, client: ToolboxClient) -> None:
        self._http = client.http
        self._base = f"{client.api_url}/v1/knowledge-bases"
        self._headers = {"Authorization": f"Bearer {client.api_key}", USER_HEADER: client.user}

    def _url(self, *parts: str) -> str:
        return "/".join([self._base, *(quote(part, safe="") for part in parts)])

    @asynccontextmanager
    async def _send(self, method: str, url: str, **options: Any) -> AsyncIterator[httpx2.Response]:
        try:
            async with self._http.stream(method, url, headers=self._headers, **options) as response:
                if response.status_code >= 400:
                    raw = await response.aread()
                    try:
                        body: Any = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        body = None
                    raise _status_error(response, body)
                yield response
        except httpx2.TimeoutException as exc:
            raise openai.APITimeoutError(request=exc.request) from exc
        except httpx2.TransportError as exc:
            raise openai.APIConnectionError(request=exc.request) from exc

    async def _json(self, method: str, url: str, **options: Any) -> Any:
        async with self._send(method, url, **options) as response:
            return orjson.loads(await response.aread())

    async def knowledge_bases(self) -> list[dict[str, Any]]:
        """The knowledge bases this key may use, with their document and chunk counts."""
        listing = await self._json("GET", self._base)
        data: list[dict[str, Any]] = listing["data"]
        return data

    async def knowledge_base(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._json("GET", self._url(name))
        return found

    async def create(self, name: str, description: str = "") -> dict[str, Any]:
        created: dict[str, Any] = await self._json("POST", self._base, json={"name": name, "description": description})
        return created

    async def documents(self, name: str) -> list[dict[str, Any]]:
        listing = await self._json("GET", self._url(name, "documents"))
        data: list[dict[str, Any]] = listing["data"]
        return data

    async def delete_document(self, name: str, document: str) -> None:
        """Remove a document, named by its id or its name."""
        await self._json("DELETE", self._url(name, "documents", document))

    async def upload(self, name: str, paths: Sequence[Path]) -> AsyncIterator[Event]:
        """Send files to be ingested: `progress` events while it works, then `done` with the report."""
        files = [("file", (path.name, await asyncio.to_thread(path.read_bytes))) for path in paths]
        url = self._url(name, "documents")
        async with self._send("POST", url, params={"stream": "true"}, files=files) as response:
            async for event in _events(response):
                yield event

    async def answer(self, name: str, question: str, model: str | None = None) -> AsyncIterator[Event]:
        """Ask: `sources` first, then each `delta` of the answer, then `done` with the whole answer and citations."""
        body: dict[str, Any] = {"question": question, "stream": True}
        if model:
            body["model"] = model
        async with self._send("POST", self._url(name, "answer"), json=body) as response:
            async for event in _events(response):
                yield event
