"""The emulator's ASGI application: routing on the raw path, AWS's error rendering, shaping and faults.

A plain ASGI callable rather than a framework app: model ids must be routed on the raw, still percent-encoded
path (ARNs hold `/`), every byte of the response is AWS's wire format, and it must never be a benchmark's
bottleneck.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson

from quarry.emulator._anthropic import anthropic_events, anthropic_message, anthropic_stream_frames, parse_anthropic
from quarry.emulator._catalog import Catalog, Resolved
from quarry.emulator._config import EmulatorConfig, EmulatorOptions
from quarry.emulator._control import (
    get_foundation_model,
    get_inference_profile,
    list_foundation_models,
    list_inference_profiles,
)
from quarry.emulator._conversation import Conversation
from quarry.emulator._converse import converse_response, converse_stream_frames
from quarry.emulator._directives import Directives, parse_directives
from quarry.emulator._embeddings import embed_response
from quarry.emulator._errors import (
    BedrockError,
    InternalServerException,
    MissingAuthenticationTokenException,
    ModelTimeoutException,
    ServiceUnavailableException,
    ThrottlingException,
    UnknownOperationException,
    ValidationException,
)
from quarry.emulator._guarded import Guard, apply_guardrail, converse_guard, invoke_guard
from quarry.emulator._guardrails import parse_guardrails
from quarry.emulator._messages_api import (
    MESSAGES_OPERATION,
    MESSAGES_PATH,
    api_key_region,
    error_body,
    parse_messages,
    sse_error,
    sse_events,
)
from quarry.emulator._responder import PromptCache, Reply, respond
from quarry.emulator._retrieve import KnowledgeProvider, parse_retrieve, retrieve
from quarry.emulator._secrets import SECRETS_TARGETS, secret_call
from quarry.emulator._service_tiers import check_offered, converse_tier, header_tier, tier_headers
from quarry.emulator._streaming import paced
from quarry.emulator._validate import parse_converse

__all__ = ["EmulatorApp", "RequestCounts"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_RUNTIME = re.compile(
    rb"^/model/(?P<model>.+)/(?P<op>converse-stream|converse|invoke-with-response-stream|invoke|count-tokens)$"
)
_FOUNDATION_MODELS = re.compile(rb"^/foundation-models(?:/(?P<id>.+))?$")
_INFERENCE_PROFILES = re.compile(rb"^/inference-profiles(?:/(?P<id>.+))?$")
_RETRIEVE = re.compile(rb"^/knowledgebases/(?P<id>[^/]*)/retrieve$")
_APPLY_GUARDRAIL = re.compile(rb"^/guardrail/(?P<id>[^/]+)/version/(?P<version>[^/]*)/apply$")
_CREDENTIAL_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/")
_FAULTS = (ThrottlingException, ServiceUnavailableException, InternalServerException, ModelTimeoutException)
_RETRIEVE_FAULTS = (ThrottlingException, InternalServerException)  # the faults Retrieve's model declares
_DEFAULT_REGION = "us-east-1"
_JSON = b"application/json"
_RUNTIME_OPERATIONS = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
    "count-tokens": "CountTokens",
}
_EVENT_STREAM = b"application/vnd.amazon.eventstream"
_SSE = b"text/event-stream; charset=utf-8"
_ANTHROPIC_PREFIX = b"/anthropic/"


@dataclass(slots=True)
class _Result:
    """A response ready to send; `delay` is slept before the first body byte, as a model's time to first token."""

    body: bytes = b""
    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    stream: AsyncIterator[bytes] | None = None
    delay: float = 0.0


def _json_result(payload: Any, *headers: tuple[bytes, bytes], delay: float = 0.0) -> _Result:
    return _Result(orjson.dumps(payload), headers=[(b"content-type", _JSON), *headers], delay=delay)


def _error_result(error: BedrockError) -> _Result:
    code = f"{error.code}:http://internal.amazon.com/coral/com.amazon.bedrock/".encode()
    body = orjson.dumps({"message": error.message})
    return _Result(body, error.status, [(b"content-type", _JSON), (b"x-amzn-errortype", code), *error.extra_headers()])


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise ValidationException("Malformed input request, please reformat your input and try again.") from None


@dataclass(slots=True)
class StreamCounts:
    """Event streams in flight, finished, and abandoned because the caller went away."""

    active: int = 0
    completed: int = 0
    abandoned: int = 0


@dataclass(slots=True)
class RequestCounts:
    """Calls received, by AWS operation name (`Converse`, `InvokeModel`, `Retrieve`, `ListFoundationModels`, …),
    so a test can see whether a gateway called Bedrock at all, and how often."""

    by_operation: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def note(self, operation: str) -> None:
        self.by_operation[operation] += 1


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class EmulatorApp:
    """Offline Amazon Bedrock (bedrock-runtime, the bedrock control plane and bedrock-agent-runtime's Retrieve)
    as an ASGI application. Retrieve answers from `knowledge`, the knowledge bases its owner injects."""

    def __init__(
        self,
        settings: EmulatorOptions | None = None,
        catalog: Catalog | None = None,
        *,
        secrets: dict[str, str] | None = None,
        parameters: dict[str, str] | None = None,
        knowledge: KnowledgeProvider | None = None,
    ) -> None:
        self.settings = settings or EmulatorConfig()
        self.catalog = catalog or Catalog.load()
        self.secrets = secrets or {}  # Secrets Manager: name → SecretString
        self.parameters = parameters or {}  # SSM Parameter Store: name → SecureString value
        self.knowledge = knowledge  # None: every knowledge base id is unknown
        self.guardrails = parse_guardrails(self.settings.guardrails)  # a bad definition: ValueError, at start-up
        self.cache = PromptCache()
        self.streams = StreamCounts()
        self.requests = RequestCounts()
        self._dice = random.Random(self.settings.seed)  # noqa: S311  # fault injection, not cryptography

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            result = await self._dispatch(scope, receive)
        except BedrockError as error:
            result = _error_result(error)
        await self._send(result, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.knowledge is not None:
                    await self.knowledge.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _send(self, result: _Result, receive: Receive, send: Send) -> None:
        headers = result.headers
        if not any(name == b"x-amzn-requestid" for name, _ in headers):
            headers = [*headers, (b"x-amzn-requestid", str(uuid.uuid4()).encode())]
        if result.stream is None:
            if result.delay:
                await asyncio.sleep(result.delay)
            headers.append((b"content-length", str(len(result.body)).encode()))
            await send({"type": "http.response.start", "status": result.status, "headers": headers})
            await send({"type": "http.response.body", "body": result.body})
            return
        await send({"type": "http.response.start", "status": result.status, "headers": headers})
        # Like Bedrock, stop generating when the caller hangs up; the counts let tests see that happen.
        hung_up = asyncio.ensure_future(_disconnected(receive))
        self.streams.active += 1
        try:
            if result.delay:
                await asyncio.sleep(result.delay)
            async for chunk in result.stream:
                if hung_up.done():
                    self.streams.abandoned += 1
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            self.streams.completed += 1
        finally:
            self.streams.active -= 1
            hung_up.cancel()

    async def _dispatch(self, scope: Scope, receive: Receive) -> _Result:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = path.split(b"?", 1)[0]
        method = scope["method"]
        if path == b"/ping" and method == "GET":
            return _json_result({"status": "ok"})
        if path == MESSAGES_PATH and method == "POST":
            return await self._messages(headers, receive)
        if path == b"/" and method == "HEAD":  # clients probe the endpoint before their first call
            return _Result(headers=[(b"content-type", _JSON)])
        authorization = headers.get("authorization", "")
        # Under /anthropic/ a Bedrock API key may also come as Anthropic clients send keys (docs/bedrock-models-2026.md
        # §3, "Auth"); so count_tokens there, which Bedrock does not serve, is an unknown operation, not a 403.
        if not authorization and not (path.startswith(_ANTHROPIC_PREFIX) and headers.get("x-api-key")):
            raise MissingAuthenticationTokenException()
        region = _region(authorization)
        target = headers.get("x-amz-target", "")
        if path == b"/" and method == "POST" and target in SECRETS_TARGETS:
            self.requests.note(target.rpartition(".")[2])
            request = _loads(await _read_body(receive)) or {}
            try:
                return _json_result(secret_call(target, request, self.secrets, self.parameters, region))
            except BedrockError as error:  # awsJson1.1 names the error in the body
                body = orjson.dumps({"__type": error.code, "message": error.message})
                return _Result(body, status=error.status, headers=[(b"content-type", b"application/x-amz-json-1.1")])
        runtime = _RUNTIME.match(path)
        if runtime and method == "POST":
            body = await _read_body(receive)
            model_id = unquote(runtime.group("model").decode("latin-1"))
            self.requests.note(_RUNTIME_OPERATIONS[runtime.group("op").decode()])
            return await self._runtime(runtime.group("op").decode(), model_id, body, region, headers)
        if (guardrail := _APPLY_GUARDRAIL.match(path)) and method == "POST":
            body = await _read_body(receive)
            self.requests.note("ApplyGuardrail")
            identifier, version = (unquote(guardrail.group(g).decode("latin-1")) for g in ("id", "version"))
            return _json_result(apply_guardrail(self.guardrails, identifier, version, _loads(body)))
        if (knowledge_base := _RETRIEVE.match(path)) and method == "POST":
            body = await _read_body(receive)
            self.requests.note("Retrieve")
            self._roll_fault(_RETRIEVE_FAULTS)
            request = parse_retrieve(unquote(knowledge_base.group("id").decode("latin-1")), _loads(body))
            return _json_result(await retrieve(self.knowledge, request))
        if method == "GET":
            query: bytes = scope.get("query_string", b"")
            if models := _FOUNDATION_MODELS.match(path):
                if models.group("id"):
                    self.requests.note("GetFoundationModel")
                    return _json_result(get_foundation_model(self.catalog, region, models.group("id").decode()))
                self.requests.note("ListFoundationModels")
                return _json_result(list_foundation_models(self.catalog, region, query))
            if profiles := _INFERENCE_PROFILES.match(path):
                if profiles.group("id"):
                    self.requests.note("GetInferenceProfile")
                    return _json_result(get_inference_profile(self.catalog, region, profiles.group("id").decode()))
                self.requests.note("ListInferenceProfiles")
                return _json_result(list_inference_profiles(self.catalog, region, query))
        self.requests.note("Unknown")
        raise UnknownOperationException(f"No operation matches {method} {path.decode('latin-1')}.")

    def _roll_fault(self, faults: tuple[type[BedrockError], ...] = _FAULTS) -> None:
        if self.settings.fault_rate and self._dice.random() < self.settings.fault_rate:
            raise self._dice.choice(faults)()

    def _directives(self, conversation: Conversation, identifier: str) -> Directives:
        try:
            directives = parse_directives(conversation.last_user_text).for_model(identifier)
        except ValueError as exc:
            raise ValidationException(str(exc)) from None
        if directives.error is not None:
            error = directives.error()
            error.retry_after = directives.retry_after_s
            raise error
        if directives.call is not None and directives.call[0] not in {tool.name for tool in conversation.tools}:
            raise ValidationException(
                f"emulator directive call= names a tool the request does not offer: {directives.call[0]}"
            )
        return directives

    def _pace(self, directives: Directives) -> tuple[float, float]:
        """Seconds before the first byte, and tokens per second (0: unpaced)."""
        first_byte = (self.settings.first_byte_ms + directives.delay_ms) / 1000
        tps = (
            directives.tokens_per_second
            if directives.tokens_per_second is not None
            else self.settings.tokens_per_second
        )
        return first_byte, tps

    def _stream(
        self,
        frames: Any,
        directives: Directives,
        tps: float,
        render_error: Callable[[BedrockError], bytes] | None = None,
    ) -> AsyncIterator[bytes]:
        error = directives.stream_error() if directives.stream_error_after is not None else None
        return paced(
            frames,
            tokens_per_second=tps,
            error_after=directives.stream_error_after,
            error=error,
            render_error=render_error,
        )

    async def _runtime(self, op: str, model_id: str, body: bytes, region: str, headers: dict[str, str]) -> _Result:
        started = time.perf_counter()
        if op == "count-tokens":
            return _json_result({"inputTokens": self._count_tokens(model_id, body, region)})
        self._roll_fault()
        resolved = self.catalog.resolve(model_id, region)
        streaming = op in ("converse-stream", "invoke-with-response-stream")
        if streaming and not resolved.model.streaming:
            raise ValidationException("The model is unsupported for streaming.")
        if op in ("converse", "converse-stream"):
            return self._converse(resolved, _loads(body), started, model_id, streaming=streaming)
        tier = header_tier(headers)
        check_offered(tier, resolved.model.model_id, self.settings.service_tiers)
        guard = None
        if headers.get("x-amzn-bedrock-guardrailidentifier") or b"amazon-bedrock-guardrailConfig" in body:
            loaded = _loads(body)
            if isinstance(loaded, dict):
                guard = invoke_guard(self.guardrails, headers, loaded)
                body = orjson.dumps(loaded)
        return self._invoke(resolved, body, started, model_id, streaming=streaming, guard=guard, tier=tier)

    def _answer(
        self, conversation: Conversation, identifier: str, guard: Guard | None = None
    ) -> tuple[Reply, Directives]:
        """The model's reply, by the prompt's directives (`identifier`, the model id or profile as called, decides
        which directives scoped with `for=` apply); with a guard, the guardrail's verdict on the input (a blocked
        input never reaches the model) and on the output."""
        if guard is not None and (blocked := guard.check_input(conversation)) is not None:
            return blocked, Directives()
        directives = self._directives(conversation, identifier)
        reply = respond(conversation, directives, self.cache)
        return (guard.check_output(reply) if guard is not None else reply), directives

    def _converse(self, resolved: Resolved, body: Any, started: float, identifier: str, *, streaming: bool) -> _Result:
        guard = converse_guard(self.guardrails, body, streaming=streaming) if isinstance(body, dict) else None
        tier = converse_tier(body) if isinstance(body, dict) else None
        check_offered(tier, resolved.model.model_id, self.settings.service_tiers)
        reply, directives = self._answer(parse_converse(body, resolved, streaming=streaming), identifier, guard)
        trace = guard.converse_trace() if guard is not None else None
        first_byte, tps = self._pace(directives)
        if streaming:
            frames = converse_stream_frames(reply, started, trace, tier)
            stream = self._stream(frames, directives, tps)
            return _Result(headers=[(b"content-type", _EVENT_STREAM)], stream=stream, delay=first_byte)
        delay = first_byte + (reply.output_tokens / tps if tps else 0.0)
        latency = int((time.perf_counter() - started + delay) * 1000)
        return _json_result(converse_response(reply, latency, trace, tier), delay=delay)

    def _invoke(
        self,
        resolved: Resolved,
        body: bytes,
        started: float,
        identifier: str,
        *,
        streaming: bool,
        guard: Guard | None = None,
        tier: str | None = None,
    ) -> _Result:
        model = resolved.model
        served = tier_headers(tier)  # InvokeModel(WithResponseStream)Response.serviceTier, a header
        if model.supports("embeddings"):
            if streaming:
                raise ValidationException("The model is unsupported for streaming.")
            payload, tokens = embed_response(body, model)
            return _json_result(payload, (b"x-amzn-bedrock-input-token-count", str(tokens).encode()), *served)
        if not model.is_anthropic:
            raise ValidationException(
                f"The emulator answers InvokeModel for Anthropic and embedding models; call {model.model_id} "
                "through Converse."
            )
        reply, directives = self._answer(parse_anthropic(body, resolved, streaming=streaming), identifier, guard)
        extra = guard.invoke_fields() if guard is not None else {}
        first_byte, tps = self._pace(directives)
        if streaming:
            frames = anthropic_stream_frames(reply, model.model_id, started, extra)
            headers = [(b"content-type", _EVENT_STREAM), (b"x-amzn-bedrock-content-type", _JSON), *served]
            return _Result(headers=headers, stream=self._stream(frames, directives, tps), delay=first_byte)
        delay = first_byte + (reply.output_tokens / tps if tps else 0.0)
        latency = int((time.perf_counter() - started + delay) * 1000)
        return _json_result(
            anthropic_message(reply, model.model_id) | extra,
            (b"x-amzn-bedrock-invocation-latency", str(latency).encode()),
            (b"x-amzn-bedrock-input-token-count", str(reply.input_tokens).encode()),
            (b"x-amzn-bedrock-output-token-count", str(reply.output_tokens).encode()),
            *served,
            delay=delay,
        )

    async def _messages(self, headers: dict[str, str], receive: Receive) -> _Result:
        """Bedrock's Messages endpoint: the same checks, faults, directives and replies as InvokeModel on Claude, in
        Anthropic's envelope (SSE streams, Anthropic-shaped errors)."""
        started = time.perf_counter()
        try:
            # SigV4 (service `bedrock`) or a Bedrock API key as a bearer token or in `x-api-key`; like every route
            # here, the emulator checks that a credential came, not what it is worth.
            authorization = headers.get("authorization", "")
            api_key = headers.get("x-api-key", "")
            if not authorization and not api_key:
                raise MissingAuthenticationTokenException()
            region = _region(authorization, api_key)
            body = await _read_body(receive)
            self.requests.note(MESSAGES_OPERATION)
            self._roll_fault()
            request = parse_messages(body, headers, self.catalog, region)
            tier = header_tier(headers)  # as InvokeModel takes it: unverified on this endpoint
            check_offered(tier, request.resolved.model.model_id, self.settings.service_tiers)
            served = tier_headers(tier)
            if request.stream and not request.resolved.model.streaming:
                raise ValidationException("The model is unsupported for streaming.")
            reply, directives = self._answer(request.conversation, request.model)
        except BedrockError as error:
            status, error_headers, payload = error_body(error)
            return _Result(payload, status, error_headers)
        model_id = request.resolved.model.model_id
        first_byte, tps = self._pace(directives)
        if request.stream:
            events = sse_events(anthropic_events(reply, model_id, started, name=request.model))
            stream = self._stream(events, directives, tps, render_error=sse_error)
            return _Result(
                headers=[(b"content-type", _SSE), (b"cache-control", b"no-cache"), *served],
                stream=stream,
                delay=first_byte,
            )
        delay = first_byte + (reply.output_tokens / tps if tps else 0.0)
        return _json_result(anthropic_message(reply, model_id, name=request.model), *served, delay=delay)

    def _count_tokens(self, model_id: str, raw: bytes, region: str) -> int:
        # CountTokens takes a bare foundation-model id even for models served only through inference profiles.
        model = self.catalog.models.get(model_id)
        resolved = Resolved(model) if model else self.catalog.resolve(model_id, region)
        if not resolved.model.is_anthropic:
            raise ValidationException("The provided model doesn't support counting tokens.")
        request = (_loads(raw) or {}).get("input") or {}
        if "converse" in request:
            converse = dict(request["converse"])
            return parse_converse(converse, resolved, streaming=False).input_tokens
        if "invokeModel" in request:
            try:
                body = base64.b64decode(request["invokeModel"].get("body", ""), validate=True)
            except (binascii.Error, ValueError):
                raise ValidationException("input.invokeModel.body must be base64-encoded JSON.") from None
            return parse_anthropic(body, resolved, streaming=False).input_tokens
        raise ValidationException(
            "1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null"
        )


def _region(authorization: str, api_key: str = "") -> str:
    """The caller's region: the SigV4 credential scope's, a Bedrock API key's, else us-east-1."""
    if match := _CREDENTIAL_REGION.search(authorization):
        return match.group("region")
    token = api_key or authorization.removeprefix("Bearer ").strip()
    return api_key_region(token) or _DEFAULT_REGION


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)
