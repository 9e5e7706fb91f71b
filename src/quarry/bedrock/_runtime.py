"""The async Bedrock runtime client: pooled HTTP/1.1 connections, SigV4 or API-key auth, retries, timeouts.

Measured against aiobotocore and aiohttp (docs/performance.md): botocore's signer and event-stream decoder over
a small keep-alive client (`_pool`, `_wire`), minus botocore's per-call serialisation and parsing machinery.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, TypeVar, cast
from urllib.parse import quote, urlsplit

import orjson

from quarry import __version__
from quarry.bedrock._attempts import Attempt, AttemptHook, model_in_path, unwatched
from quarry.bedrock._aws import resolve_aws
from quarry.bedrock._breaker import Breakers
from quarry.bedrock._converse_shapes import (
    ConverseRequest,
    ConverseResponse,
    ConverseStreamEvent,
    CountTokensInput,
    Document,
)
from quarry.bedrock._errors import error_from_messages, error_from_response, is_retryable
from quarry.bedrock._eventstream import EventDecoder
from quarry.bedrock._guardrail_shapes import ApplyGuardrailRequest, ApplyGuardrailResponse
from quarry.bedrock._guardrail_usage import trace_units, usage_units
from quarry.bedrock._messages_shapes import (
    MessagesBody,
    MessagesResponse,
    MessagesStreamEvent,
)
from quarry.bedrock._pool import HttpPool
from quarry.bedrock._retry import backoff, remaining_s, retry_after_s
from quarry.bedrock._signing import RequestSigner
from quarry.bedrock._sse import EventSplitter, ServerSentEvent
from quarry.bedrock._wire import HttpError, Response
from quarry.errors import (
    InvalidRequest,
    QuarryError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from quarry.exchange import note_finish, note_guardrail_units, note_service_tier, note_upstream_wait
from quarry.settings import BedrockSettings, ResilienceSettings

__all__ = ["TIER_HEADER", "BedrockRuntime", "Invocation", "tier_header"]

_JSON = "application/json"
_EVENT_STREAM = "application/vnd.amazon.eventstream"
# Bedrock's own Messages endpoint (outside bedrock-runtime's service model): Anthropic's API, signed as `bedrock`.
_MESSAGES_PATH = "/anthropic/v1/messages"
_INVALID_BETA = "invalid beta flag"
# InvokeModel's service tier, asked and answered (botocore's bedrock-runtime service model: InvokeModelRequest and
# InvokeModelResponse `serviceTier`, location header); Quarry sends it to the Messages endpoint too (unverified there).
TIER_HEADER = "X-Amzn-Bedrock-Service-Tier"
_REFUSED_BETAS_KEPT = 256
# Paths (model and operation) whose URL, model id and encoded label are remembered: a gateway calls a handful.
_KNOWN_PATHS = 256
_UNWATCHED = unwatched()  # reusable: a nullcontext around a watch that does nothing
_Decoded = TypeVar("_Decoded")
_Decoded_co = TypeVar("_Decoded_co", covariant=True)


class _Decoder(Protocol[_Decoded_co]):
    """A stream's events from its body's reads (`EventDecoder`, `EventSplitter`)."""

    def feed(self, chunk: bytes) -> Iterator[_Decoded_co]: ...

    def end(self) -> Iterator[_Decoded_co]: ...


ErrorReader = Callable[[int, str | None, bytes], QuarryError]


@dataclass(frozen=True, slots=True)
class _Failure:
    """A try that failed: the error, and the wait the upstream asked for (`Retry-After`), if it did."""

    error: QuarryError
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Invocation:
    """An InvokeModel answer for a model's own body (embeddings): the decoded JSON, in that model's shape rather than
    a Converse or Messages one, and the headers (token counts live there)."""

    body: Document
    headers: Mapping[str, str]


class BedrockRuntime:
    """bedrock-runtime over one connection pool. Create it inside the running event loop; `aclose()` when done.

    `on_upstream_error` (settable after construction) is told of every error answer Bedrock gives — including
    those retried here, which no caller ever sees — so throttling can be counted; it must be cheap and not raise.
    `on_attempt` (likewise) wraps each HTTP try (tracing's upstream spans). Time spent waiting on Bedrock is noted on
    the current request's Exchange (`note_upstream_wait`), so its overhead can be told from Bedrock's latency.
    """

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        signer: RequestSigner,
        settings: BedrockSettings | None = None,
        on_upstream_error: Callable[[QuarryError], None] | None = None,
        resilience: ResilienceSettings | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        # Sent and signed as given, which spares botocore's signer from working it out on every request.
        self._host = _host_header(self.endpoint_url)
        self.region = region
        self._signer = signer
        self._settings = settings or BedrockSettings()
        self._resilience = resilience or ResilienceSettings()
        self.breakers = Breakers(
            failures=self._resilience.breaker_failures, cooldown_s=self._resilience.breaker_cooldown_s
        )
        self._connections: HttpPool | None = None
        # How long a try waits for each piece of its answer: a non-streamed call `first_byte_timeout_s`, a stream
        # `idle_timeout_s` (its events, and its head).
        self._timeouts = {False: self._settings.first_byte_timeout_s, True: self._settings.idle_timeout_s}
        self._base_path = urlsplit(self.endpoint_url).path  # an endpoint behind a path prefix keeps it
        self._urls: dict[str, tuple[str, str]] = {}  # path → the URL signed and the request target sent
        self._user_agent = f"quarry/{__version__}"
        # Every try's first headers, by whether it streams (a copy each: the signer adds its own).
        self._headers = {
            stream: {
                "Host": self._host,
                "Content-Type": _JSON,
                "Accept": _EVENT_STREAM if stream else _JSON,
                "User-Agent": self._user_agent,
            }
            for stream in (False, True)
        }
        self.on_upstream_error = on_upstream_error
        self.on_attempt: AttemptHook | None = None
        self._refused_betas: dict[str, str] = {}  # anthropic-beta headers Bedrock refused → the flags sent instead

    @classmethod
    async def create(
        cls, *, region: str | None = None, endpoint_url: str | None = None, settings: BedrockSettings | None = None
    ) -> BedrockRuntime:
        """A client using botocore's credential chain and endpoint resolution (benchmarks and scripts)."""
        target = await resolve_aws(default_region=region or "us-east-1", runtime_url=endpoint_url)
        if target is None:
            raise UpstreamError("no AWS credentials found (environment, profile, SSO, container or instance role)")
        return cls(endpoint_url=target.runtime_url, region=target.region, signer=target.signer, settings=settings)

    def _pool(self) -> HttpPool:
        if self._connections is None:
            self._connections = HttpPool(
                self.endpoint_url,
                limit=self._settings.max_connections,
                connect_timeout_s=self._settings.connect_timeout_s,
            )
        return self._connections

    async def aclose(self) -> None:
        if self._connections is not None:
            await self._connections.aclose()
            self._connections = None

    async def converse(self, model_id: str, body: ConverseRequest) -> ConverseResponse:
        """Converse: one whole answer."""
        response = await self._send(
            f"/model/{_label(model_id)}/converse", orjson.dumps(body), stream=False, model=model_id
        )
        with response:
            # Bedrock's answers follow its service model: viewed as the shape, not re-checked.
            answer = cast(ConverseResponse, orjson.loads(self._ready(response) or await self._read(response)))
        note_finish(answer.get("stopReason"))
        if "serviceTier" in answer:
            note_service_tier(answer["serviceTier"].get("type"))
        if "trace" in answer:
            note_guardrail_units(trace_units(answer["trace"].get("guardrail")))
        return answer

    @asynccontextmanager
    async def converse_stream(
        self, model_id: str, body: ConverseRequest
    ) -> AsyncIterator[AsyncIterator[ConverseStreamEvent]]:
        """ConverseStream: events as botocore shapes them. Leaving the block early drops the upstream request."""
        response = await self._send(
            f"/model/{_label(model_id)}/converse-stream", orjson.dumps(body), stream=True, model=model_id
        )
        async with self._streaming(response, EventDecoder()) as frames:
            # Viewed as their shape in one cast, not one call per event: the hot path of every stream.
            yield cast(AsyncIterator[ConverseStreamEvent], frames)

    async def apply_guardrail(
        self, identifier: str, version: str, request: ApplyGuardrailRequest
    ) -> ApplyGuardrailResponse:
        """ApplyGuardrail: a guardrail's verdict on texts, for calls whose API takes no guardrail of its own."""
        path = f"/guardrail/{_label(identifier)}/version/{_label(version)}/apply"
        response = await self._send(path, orjson.dumps(request), stream=False)
        with response:
            answer = cast(
                ApplyGuardrailResponse, orjson.loads(self._ready(response) or await self._read(response))
            )  # Bedrock's: viewed
        note_guardrail_units(usage_units(answer.get("usage")))
        return answer

    async def invoke_claude(
        self, model_id: str, body: MessagesBody, *, service_tier: str | None = None
    ) -> MessagesResponse:
        """InvokeModel with Claude's Messages body: Anthropic's Messages response."""
        answer = await self.invoke_model(model_id, orjson.dumps(body), extra_headers=tier_header(service_tier))
        note_finish(answer.body.get("stop_reason"))
        return cast(MessagesResponse, answer.body)  # Anthropic's response, relayed by Bedrock: viewed, not checked

    @asynccontextmanager
    async def invoke_claude_stream(
        self, model_id: str, body: MessagesBody, *, service_tier: str | None = None
    ) -> AsyncIterator[AsyncIterator[MessagesStreamEvent]]:
        """InvokeModelWithResponseStream with Claude's Messages body: Anthropic's stream events."""
        extra = tier_header(service_tier)
        async with self.invoke_model_stream(model_id, orjson.dumps(body), extra_headers=extra) as events:
            yield cast(AsyncIterator[MessagesStreamEvent], events)  # Anthropic's events, relayed: viewed, not checked

    async def invoke_model(
        self, model_id: str, body: bytes, *, extra_headers: Mapping[str, str] | None = None
    ) -> Invocation:
        """InvokeModel with a model's own JSON body (embeddings; Claude's goes through `invoke_claude`)."""
        response = await self._send(
            f"/model/{_label(model_id)}/invoke", body, stream=False, extra=extra_headers, model=model_id
        )
        with response:
            data = orjson.loads(self._ready(response) or await self._read(response))
        return Invocation(body=data, headers=dict(response.headers))

    @asynccontextmanager
    async def invoke_model_stream(
        self, model_id: str, body: bytes, *, extra_headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[AsyncIterator[Document]]:
        """InvokeModelWithResponseStream: the model's own events, decoded from the `chunk` frames (JSON in the
        model's own shape; Claude's are typed by `invoke_claude_stream`). Leaving the block early drops the upstream
        request."""
        path = f"/model/{_label(model_id)}/invoke-with-response-stream"
        response = await self._send(path, body, stream=True, extra=extra_headers, model=model_id)
        async with self._streaming(response, EventDecoder()) as frames:

            async def events() -> AsyncIterator[Document]:
                async for frame in frames:
                    chunk = frame.get("chunk")
                    if chunk is not None:
                        yield orjson.loads(base64.b64decode(chunk["bytes"]))

            yield events()

    async def messages(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        fallback_betas: str | None = None,
        model_id: str | None = None,
    ) -> MessagesResponse:
        """Bedrock's Messages endpoint (`POST /anthropic/v1/messages`): Anthropic's request as the caller wrote it,
        with `headers` (`anthropic-version`, `anthropic-beta`) passed on. An error answer in Anthropic's envelope is
        raised with the answer kept whole in `relayed`. `fallback_betas`: see `_send_messages`; `model_id` (the one
        in `body`) keys the circuit breaker."""
        response = await self._send_messages(
            body, headers, stream=False, fallback_betas=fallback_betas, model_id=model_id
        )
        with response:
            answer = cast(
                MessagesResponse, orjson.loads(self._ready(response) or await self._read(response))
            )  # Anthropic's: viewed, not checked
        note_finish(answer.get("stop_reason"))
        return answer

    @asynccontextmanager
    async def messages_stream(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        fallback_betas: str | None = None,
        model_id: str | None = None,
    ) -> AsyncIterator[AsyncIterator[ServerSentEvent]]:
        """The Messages endpoint with `"stream": true` in `body`: Anthropic's server-sent events, each whole and as
        Bedrock sent it. Leaving the block early drops the upstream request."""
        response = await self._send_messages(
            body, headers, stream=True, fallback_betas=fallback_betas, model_id=model_id
        )
        if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
            # An answer that is not a stream (Bedrock has been seen answering errors with a 200) is an error.
            with response:
                payload = self._ready(response) or await self._read(response)
            error = error_from_messages(502, response.headers.get("x-amzn-ErrorType"), payload)
            self._noted(error)
            raise error
        async with self._streaming(response, EventSplitter()) as events:
            yield events

    async def _send_messages(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        stream: bool,
        fallback_betas: str | None,
        model_id: str | None = None,
    ) -> Response:
        """The Messages endpoint's POST, beta flags first as the caller sent them. Bedrock refuses a request naming
        a flag it does not know ("invalid beta flag"), and clients send flags of Anthropic's own API (Claude Code's
        `claude-code-20250219`): then the request is sent again with `fallback_betas` (the flags Bedrock is known
        to take). The refused header is remembered (the last 256), so it costs one refusal per process, not one
        per request; a flag Bedrock comes to know reaches it from the next restart."""
        sent = dict(headers)
        flags = sent.get("anthropic-beta")
        known = self._refused_betas.get(flags) if flags is not None else None
        if known is not None:
            _set_betas(sent, known)
        try:
            return await self._send(
                _MESSAGES_PATH,
                body,
                stream=stream,
                extra=sent,
                accept=_JSON,
                errors=error_from_messages,
                model=model_id,
            )
        except InvalidRequest as error:
            refused = _INVALID_BETA in error.message.lower()
            if flags is None or known is not None or fallback_betas is None or fallback_betas == flags or not refused:
                raise
        self._refused_betas[flags] = fallback_betas
        while len(self._refused_betas) > _REFUSED_BETAS_KEPT:
            self._refused_betas.pop(next(iter(self._refused_betas)))
        _set_betas(sent, fallback_betas)
        return await self._send(
            _MESSAGES_PATH, body, stream=stream, extra=sent, accept=_JSON, errors=error_from_messages, model=model_id
        )

    async def count_tokens(self, model_id: str, body: CountTokensInput) -> int:
        """CountTokens: input tokens of a Converse-shaped (`{"converse": …}`) or InvokeModel-shaped input."""
        response = await self._send(
            f"/model/{_label(model_id)}/count-tokens", orjson.dumps({"input": body}), stream=False
        )
        with response:
            data = orjson.loads(self._ready(response) or await self._read(response))
        return int(data["inputTokens"])

    @asynccontextmanager
    async def _streaming(
        self,
        response: Response,
        decoder: _Decoder[_Decoded],
    ) -> AsyncIterator[AsyncIterator[_Decoded]]:
        finished = False
        opened = time.perf_counter()

        async def events() -> AsyncIterator[_Decoded]:
            # The connection's reads decoded here, in the one async generator between the connection and the
            # caller: each level an event passes costs a resume per event, on every event of every stream.
            nonlocal finished
            read = response.reader(self._settings.idle_timeout_s)
            try:
                while chunk := await read():
                    for event in decoder.feed(chunk):
                        yield event
                for event in decoder.end():
                    yield event
            except QuarryError as error:  # an exception frame: Bedrock's error, mid-stream
                self._noted(error)
                raise
            except TimeoutError:
                raise UpstreamTimeout(f"Bedrock sent nothing for {self._settings.idle_timeout_s:g} s") from None
            except HttpError as exc:
                raise UpstreamError(f"the Bedrock stream broke off: {exc}") from None
            finished = True

        try:
            yield events()
        finally:
            # An unfinished stream must not go back to the pool: closing it ends the upstream request now.
            if finished:
                response.release()
            else:
                response.close()
            note_upstream_wait(time.perf_counter() - opened)

    @staticmethod
    def _ready(response: Response) -> bytes | None:
        """The answer's body when it came with its head (a short answer usually does): no read to wait for, so
        nothing to time (callers then `_read` it, which an empty body also takes)."""
        return response.read_now()

    async def _read(self, response: Response) -> bytes:
        started = time.perf_counter()
        try:
            return await response.read()
        except TimeoutError:
            raise UpstreamTimeout("Bedrock did not finish its answer in time") from None
        except HttpError as exc:
            raise UpstreamError(f"reading Bedrock's answer failed: {exc}") from None
        finally:
            note_upstream_wait(time.perf_counter() - started)

    def _url(self, path: str) -> tuple[str, str]:
        known = self._urls.get(path)
        if known is None:
            known = (self.endpoint_url + path, self._base_path + path)
            if len(self._urls) < _KNOWN_PATHS:
                self._urls[path] = known
        return known

    def _noted(self, error: QuarryError) -> None:
        if self.on_upstream_error is not None:
            self.on_upstream_error(error)

    async def _send(
        self,
        path: str,
        body: bytes,
        *,
        stream: bool,
        extra: Mapping[str, str] | None = None,
        accept: str | None = None,
        errors: ErrorReader = error_from_response,
        model: str | None = None,
    ) -> Response:
        """POST with retries; returns a 2xx response whose body is still unread. Errors are raised, read by
        `errors` from Bedrock's status, `x-amzn-ErrorType` and body. With `model`, the call goes through that
        model's circuit breaker in this region: refused at once (CircuitOpen) while it is open, its outcome noted."""
        probe = self.breakers.admit(model, self.region) if model is not None else False
        judged = False
        try:
            for attempt in range(1, self._settings.max_attempts + 1):
                outcome = await self._attempt(
                    path, body, attempt, stream=stream, extra=extra, accept=accept, errors=errors
                )
                if isinstance(outcome, _Failure):
                    error = outcome.error
                    wait = self._retry_wait(attempt, outcome)
                    # A probe gets one try (its failure reopens the circuit), and a circuit opened meanwhile by
                    # other calls is not tried again now: the caller's fallback, if it has one, answers sooner.
                    if wait is None or probe or (model is not None and self.breakers.is_open(model, self.region)):
                        # A call fails the circuit once, after its retries, and only for Bedrock's trouble.
                        if model is not None and (is_retryable(error) or isinstance(error, UpstreamTimeout)):
                            self.breakers.failed(model, self.region)
                            judged = True
                        raise error
                    await asyncio.sleep(wait)
                    note_upstream_wait(wait)  # waiting out Bedrock's throttle is Bedrock's time, not Quarry's
                    continue
                if model is not None:
                    self.breakers.succeeded(model, self.region)
                    judged = True
                return outcome
            raise AssertionError("unreachable")
        finally:
            if probe and not judged and model is not None:
                self.breakers.abandoned(model, self.region)

    def _retry_wait(self, attempt: int, failure: _Failure) -> float | None:
        """Seconds to wait before trying again, or None when the error is final: not retryable, tries used up, the
        upstream's Retry-After too long, or the request's deadline (retries and fallbacks) too near."""
        if attempt >= self._settings.max_attempts or not is_retryable(failure.error):
            return None
        policy, asked = self._resilience, failure.retry_after
        if asked is not None and asked > policy.max_retry_after_s:
            return None
        wait = asked if asked is not None else backoff(attempt, policy.backoff_base_s, policy.backoff_cap_s)
        left = remaining_s()
        if left is not None and wait >= left:
            return None
        return wait

    async def _attempt(
        self,
        path: str,
        body: bytes,
        attempt: int,
        *,
        stream: bool,
        extra: Mapping[str, str] | None,
        accept: str | None,
        errors: ErrorReader,
    ) -> Response | _Failure:
        """One POST: the 2xx response, or what went wrong (with the wait the answer asked for, if it did)."""
        url, target = self._url(path)
        base = self._headers[stream].copy()
        if accept:
            base["Accept"] = accept
        if extra:
            base.update(extra)
        headers = await self._signer.sign("POST", url, base, body)
        hook = self.on_attempt
        watching = _UNWATCHED if hook is None else hook(Attempt(path, body, attempt, self.region, url))
        with watching as watch:
            started = time.perf_counter()
            try:
                response = await self._pool().post(target, headers, body, self._timeouts[stream])
            except TimeoutError:
                failure = _Failure(UpstreamTimeout("Bedrock did not answer in time"))
            except HttpError as exc:  # no connection, or one that broke before the answer's head
                failure = _Failure(UpstreamUnavailable(f"cannot reach Bedrock at {self.endpoint_url}: {exc}"))
            else:
                answered = response.status < 300
                note_upstream_wait(time.perf_counter() - started, _model_in_path(path) if answered else None)
                if answered:
                    watch.answered(response.status)
                    # The tier that served an InvokeModel (or Messages) call is a header of its answer.
                    note_service_tier(response.headers.get(TIER_HEADER))
                    return response
                started = 0.0  # the wait is noted; the error's body is a read that notes its own
                with response:
                    payload = self._ready(response) or await self._read(response)
                error = errors(response.status, response.headers.get("x-amzn-ErrorType"), payload)
                asked = retry_after_s(response.headers)
                if asked is not None and isinstance(error, RateLimited):
                    error.retry_after = asked  # passed on to the caller if no retry or fallback answers
                self._noted(error)
                failure = _Failure(error, asked)
            if started:  # no answer at all: the whole try was a wait
                note_upstream_wait(time.perf_counter() - started)
            watch.failed(failure.error)
        return failure


def tier_header(service_tier: str | None) -> dict[str, str] | None:
    """The header asking InvokeModel (and the Messages endpoint) for a service tier, or None for Bedrock's default."""
    return None if service_tier is None else {TIER_HEADER: service_tier}


def _set_betas(headers: dict[str, str], flags: str) -> None:
    if flags:
        headers["anthropic-beta"] = flags
    else:
        headers.pop("anthropic-beta", None)


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


@lru_cache(maxsize=_KNOWN_PATHS)
def _label(model_id: str) -> str:
    """A model id, ARN or profile as one URI path segment, encoded as botocore encodes it (remembered: a gateway
    calls a handful of models, and quoting one is a microsecond or two)."""
    return quote(model_id, safe="")


_model_in_path = lru_cache(maxsize=_KNOWN_PATHS)(model_in_path)  # likewise, undoing it per answer
