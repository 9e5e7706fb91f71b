"""`POST /v1/completions`, OpenAI's legacy text completions, which clients still call (LlamaIndex's `OpenAILike`
does by default): each prompt becomes a chat of one user message, with the request's other fields as the chat
route reads them, so every chat rule, limit and record applies unchanged. Several prompts are several Converse
calls, admitted together, answered in parallel, or streamed one after another, each as its own choice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from quarry.api._body import json_body, read_json, read_model
from quarry.api._context import services_of
from quarry.api._core import Usage
from quarry.api._estimate import estimate_tokens
from quarry.api._exchange import watch_converse
from quarry.api._published import answers
from quarry.api._responses import json_response
from quarry.api.openai._answers import TextCompletion
from quarry.api.openai._calls import ChatCall, dropped_header, prepare_calls
from quarry.api.openai._render import render_error
from quarry.api.openai._schemas import ChatCompletionRequest, CompletionRequest
from quarry.api.openai._text import TextChunkWriter, text_completion
from quarry.api.openai._tokens import texts
from quarry.bedrock import BedrockRuntime, ConverseResponse, ConverseStreamEvent
from quarry.errors import InvalidRequest
from quarry.exchange import Exchange, exchange_of

__all__ = ["MAX_PROMPTS", "completions"]

# Each prompt is an upstream call; OpenAI publishes no limit for a prompt list, so Quarry sets one.
MAX_PROMPTS = 64
_PARALLEL_CALLS = 8
# The legacy fields a chat has no use for; everything else goes to the chat route's reading as it came.
_LEGACY_ONLY = frozenset({"prompt", "echo", "suffix", "logprobs", "best_of", "messages"})


def _refuse_unsupported(body: CompletionRequest) -> None:
    """What Bedrock's chat models cannot do, refused by name before anything is called."""
    if body.echo:
        raise InvalidRequest(
            "echo is not supported: Bedrock's models return the completion alone.",
            param="echo",
            code="unsupported_parameter",
        )
    if body.suffix:
        raise InvalidRequest(
            "suffix (text insertion) is not supported by Bedrock's models.",
            param="suffix",
            code="unsupported_parameter",
        )
    if body.logprobs is not None:
        raise InvalidRequest("logprobs are not available from Bedrock.", param="logprobs", code="unsupported_parameter")
    if body.best_of is not None and body.best_of > 1:
        raise InvalidRequest(
            "best_of > 1 is not supported: Bedrock returns one completion.", param="best_of", code="unsupported_value"
        )


def _chats(raw: dict[str, Any], prompts: Sequence[str]) -> list[ChatCompletionRequest]:
    fields = {key: value for key, value in raw.items() if key not in _LEGACY_ONLY}
    return [
        read_model({**fields, "messages": [{"role": "user", "content": prompt}]}, ChatCompletionRequest)
        for prompt in prompts
    ]


async def _answers(calls: Sequence[ChatCall], runtime: BedrockRuntime) -> list[ConverseResponse]:
    gate = asyncio.Semaphore(_PARALLEL_CALLS)

    async def one(call: ChatCall) -> ConverseResponse:
        async with gate:
            return await call.answer(runtime)

    return list(await asyncio.gather(*(one(call) for call in calls)))


async def _events(
    calls: Sequence[ChatCall],
    first: AsyncIterator[ConverseStreamEvent],
    runtime: BedrockRuntime,
    exchange: Exchange,
    writer: TextChunkWriter,
) -> AsyncIterator[tuple[int, ConverseStreamEvent]]:
    """Each prompt's events in turn, tagged with its index; the first call was opened before the response began,
    each later one opens when the one before it has ended (an error then is an error event, and the stream ends)."""
    async for event in watch_converse(first, exchange):
        yield 0, event
    for index, call in enumerate(calls[1:], start=1):
        async with call.stream(runtime) as events:
            async for event in watch_converse(events, exchange, before=writer.usage):
                yield index, event


@json_body(CompletionRequest)
@answers(TextCompletion, streams=True)
async def completions(request: Request) -> Response:
    services = services_of(request)
    exchange = exchange_of(request)
    principal = await services.authenticate(request, "completions")
    raw = await read_json(request, services.settings.max_body_bytes)
    body = read_model(raw, CompletionRequest)
    _refuse_unsupported(body)
    prompts = await texts(body.prompt, body.model, "prompt", limit=MAX_PROMPTS)
    calls, _ = await prepare_calls(request, principal, _chats(raw, prompts), estimate_tokens({"input": prompts}, 0))
    dropped = dropped_header(calls)
    if not body.stream:
        found = await _answers(calls, services.runtime)
        total = sum((Usage.from_converse(answer.get("usage")) for answer in found), Usage())
        exchange.note_usage(total.counts())
        return json_response(text_completion(calls, found), headers=dropped)
    resources = AsyncExitStack()
    first = await resources.enter_async_context(calls[0].stream(services.runtime))
    writer = TextChunkWriter(calls, include_usage=bool(body.stream_options and body.stream_options.include_usage))
    response = services.stream(
        request,
        resources,
        _events(calls, first, services.runtime, exchange, writer),
        writer.event,
        finish=writer.finish,
        render_error=render_error,
    )
    response.headers.update(dropped or {})
    return response
