"""Bedrock's own API relayed: a caller's bedrock-runtime request sent on as it came, signed with Quarry's identity,
and the answer handed back as Bedrock gave it — errors included, stream frames as they arrive.

The relay is the runtime client's other face: the same connection pool, signer and timeouts (so the same
`BedrockRuntime` owns them), but no retries and no mapping of errors, because the caller's own SDK retries and
reads Bedrock's errors itself. Frames are split (botocore's CRC-checked decoder) only to let the caller of the
relay read usage on the way; their bytes go on untouched.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from botocore.eventstream import ParserError

from quarry.bedrock._attempts import Attempt, model_in_path, unwatched
from quarry.bedrock._errors import error_from_response
from quarry.bedrock._eventstream import FrameBuffer
from quarry.bedrock._runtime import TIER_HEADER, BedrockRuntime
from quarry.bedrock._wire import HttpError, Response
from quarry.errors import QuarryError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from quarry.exchange import note_service_tier, note_upstream_wait

__all__ = ["Frame", "Relayed", "model_path", "relay", "relayed_headers"]

# What a caller's request may carry on to Bedrock besides its body: InvokeModel's content negotiation, guardrail,
# trace, latency and tier headers, and the Messages endpoint's Anthropic headers. Authorization never goes on.
_FORWARDED = ("content-type", "accept", "anthropic-version", "anthropic-beta")
_FORWARDED_PREFIX = "x-amzn-bedrock-"
# What goes back from Bedrock's answer: its content type, request id and the `x-amzn-bedrock-*` token counts.
_RETURNED = ("content-type", "content-encoding", "x-amzn-requestid", "x-amzn-errortype", "request-id", "retry-after")


@dataclass(frozen=True, slots=True)
class Frame:
    """One event-stream frame's head and payload, for reading usage: `kind` is the event type (`metadata`,
    `chunk`, …) or, for an exception frame, the exception type."""

    kind: str
    exception: bool
    payload: bytes


@dataclass(slots=True)
class Relayed:
    """Bedrock's answer: status and headers at once, then the body (`read()`) or its chunks (`chunks()`)."""

    status: int
    headers: dict[str, str]
    _response: Response
    _timeout_s: float
    _buffer: FrameBuffer = field(default_factory=FrameBuffer)
    finished: bool = False
    _broken: bool = False

    async def read(self) -> bytes:
        try:
            body = await self._response.read()
        except TimeoutError:
            raise UpstreamTimeout("Bedrock did not finish its answer in time") from None
        except HttpError as exc:
            raise UpstreamError(f"reading Bedrock's answer failed: {exc}") from None
        self.finished = True
        return body

    async def chunks(self, *, framed: bool = True) -> AsyncIterator[tuple[bytes, list[Frame]]]:
        """The body as it arrives, each piece with the event-stream frames it completes (none when not `framed`:
        the Messages endpoint streams SSE). Frames that fail their checksum are the caller's to find: their bytes go
        on, and reading stops."""
        try:
            async for chunk in self._response.chunks(self._timeout_s):
                yield chunk, self._frames(chunk) if framed else []
        except TimeoutError:
            raise UpstreamTimeout(f"Bedrock sent nothing for {self._timeout_s:g} s") from None
        except HttpError as exc:
            raise UpstreamError(f"the Bedrock stream broke off: {exc}") from None
        self.finished = True

    def _frames(self, chunk: bytes) -> list[Frame]:
        if self._broken:
            return []
        self._buffer.add_data(chunk)
        try:
            return [_frame(headers, payload) for headers, payload in self._buffer.frames()]
        except ParserError:
            self._broken = True
            return []


def _frame(headers: dict[str, Any], view: bytes | memoryview) -> Frame:
    payload = bytes(view)  # a view into the read, for the decoder; the frame keeps its own bytes
    if headers.get(":message-type") == "exception":
        return Frame(str(headers.get(":exception-type", "")), True, payload)
    return Frame(str(headers.get(":event-type", "")), False, payload)


def relayed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of Bedrock's answer that go back to the caller."""
    return {
        name: value
        for name, value in headers.items()
        if (lowered := name.lower()) in _RETURNED or lowered.startswith(_FORWARDED_PREFIX)
    }


@asynccontextmanager
async def relay(
    runtime: BedrockRuntime, path: str, body: bytes, headers: Mapping[str, str], *, stream: bool
) -> AsyncIterator[Relayed]:
    """POST `path` (e.g. `/model/{id}/invoke`, built with `model_path`) to bedrock-runtime with the caller's body
    and forwarded headers, signed as Quarry. Any status comes back; only an unreachable Bedrock raises. Leaving
    the block before the body is read drops the upstream request rather than pooling it."""
    # The runtime's own pool, signer and timeouts: one set of connections to Bedrock, however it is called.
    settings = runtime._settings  # same package: the relay is the runtime's second face
    url, target = runtime._url(path)
    sent = {"Host": runtime._host, "Content-Type": "application/json", "User-Agent": runtime._user_agent}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _FORWARDED or lowered.startswith(_FORWARDED_PREFIX):
            sent[_title(lowered)] = value
    signed = await runtime._signer.sign("POST", url, sent, body)
    hook = runtime.on_attempt  # one try: the relay never retries
    started = time.perf_counter()  # from here until the answer is read (or the stream ends): Bedrock's time
    with unwatched() if hook is None else hook(Attempt(path, body, 1, runtime.region, url)) as watch:
        failure: QuarryError | None = None
        try:
            response = await runtime._pool().post(target, signed, body, runtime._timeouts[stream])
        except TimeoutError:
            failure = UpstreamTimeout("Bedrock did not answer in time")
        except HttpError as exc:
            failure = UpstreamUnavailable(f"cannot reach Bedrock at {runtime.endpoint_url}: {exc}")
        if failure is not None:
            note_upstream_wait(time.perf_counter() - started)
            watch.failed(failure)
        elif response.status < 300:
            watch.answered(response.status)
            note_service_tier(response.headers.get(TIER_HEADER))  # InvokeModel's answer names the tier that served it
        else:
            watch.failed(error_from_response(response.status, response.headers.get("x-amzn-ErrorType"), b""))
    if failure is not None:
        raise failure
    relayed = Relayed(response.status, relayed_headers(response.headers), response, settings.idle_timeout_s)
    try:
        yield relayed
    finally:
        if relayed.finished:
            response.release()
        else:
            response.close()
        note_upstream_wait(time.perf_counter() - started, model_in_path(path) if response.status < 300 else None)
        if response.status >= 300 and runtime.on_upstream_error is not None:
            # Counted like the runtime's own upstream errors (throttling above all); the body is the caller's.
            named = response.headers.get("x-amzn-ErrorType")
            runtime.on_upstream_error(error_from_response(response.status, named, b""))


def model_path(model_id: str, operation: str) -> str:
    """`/model/{modelId}/{operation}` with the id as one path segment, encoded as botocore encodes it."""
    return f"/model/{quote(model_id, safe='')}/{operation}"


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
