"""What chat completions and text completions share between reading a request and rendering its answer: `kb:`
models, model resolution, admission against the key's scopes, limits and budgets, the knowledge-base search, and
the Converse call itself, whole or streamed. A text completion is one or more chats (one per prompt) admitted
together, so both routes take this one path to Bedrock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from quarry.api._context import services_of
from quarry.api._core import DROPPED_PARAMS_HEADER, OPENAI_SERVICE_TIERS, bedrock_tier, guard_converse, output_reserve
from quarry.api._fallbacks import fallback_chain
from quarry.api.openai._knowledge import KB_PREFIX, KnowledgeTurn, canned_answer, canned_events, knowledge_chat
from quarry.api.openai._messages import to_converse
from quarry.api.openai._request import ChatPlan, plan_chat
from quarry.api.openai._schemas import ChatCompletionRequest
from quarry.auth import Principal
from quarry.bedrock import BedrockRuntime, ConverseResponse, ConverseStreamEvent, ResolvedModel
from quarry.exchange import exchange_of

__all__ = ["ChatCall", "dropped_header", "prepare_calls"]


@dataclass(frozen=True, slots=True)
class ChatCall:
    """One chat as Bedrock gets it: its Converse plan, and the knowledge-base turn it answers from (if any)."""

    plan: ChatPlan
    turn: KnowledgeTurn | None = None
    chat: ChatCompletionRequest | None = None  # what the plan was made from, to plan it for a fallback model

    async def for_model(self, request: Request, principal: Principal, model: ResolvedModel) -> ChatCall:
        """This chat planned for another model of a fallback chain (its rules, its guardrail); itself for its own."""
        if model.id == self.plan.model.id or self.chat is None:
            return self
        return await _planned(request, principal, self.chat, model, self.turn)

    @property
    def canned(self) -> bool:
        """Nothing relevant in the knowledge base: Quarry answers that itself and asks no model."""
        return self.turn is not None and not self.turn.hits

    async def answer(self, runtime: BedrockRuntime) -> ConverseResponse:
        if self.turn is not None and self.canned:
            return canned_answer(self.turn.nothing_found())
        return await runtime.converse(self.plan.model.id, self.plan.body)

    def stream(self, runtime: BedrockRuntime) -> AbstractAsyncContextManager[AsyncIterator[ConverseStreamEvent]]:
        """The answer's ConverseStream events; entering opens the upstream call, so a refusal or a throttle met
        before the response starts is still a proper HTTP error (and retried)."""
        if self.turn is not None and self.canned:
            return _canned(self.turn.nothing_found())
        return runtime.converse_stream(self.plan.model.id, self.plan.body)

    def sources(self, answer: str | None = None) -> list[dict[str, Any]] | None:
        return self.turn.sources(answer) if self.turn is not None else None


@asynccontextmanager
async def _canned(text: str) -> AsyncIterator[AsyncIterator[ConverseStreamEvent]]:
    yield canned_events(text)


def dropped_header(calls: Sequence[ChatCall]) -> dict[str, str] | None:
    """`x-quarry-dropped-params` for parameters the model refuses (the same for every call of one request)."""
    dropped = calls[0].plan.dropped
    return {DROPPED_PARAMS_HEADER: ", ".join(dropped)} if dropped else None


async def prepare_calls(
    request: Request,
    principal: Principal,
    chats: Sequence[ChatCompletionRequest],
    prompt_tokens: int,
    *,
    fallbacks: bool = False,
) -> tuple[list[ChatCall], tuple[ResolvedModel, ...]]:
    """The Converse calls for chats that name one model, admitted together: `prompt_tokens` is the estimate of
    their prompts, to which each chat's output reserve and knowledge-base passages are added. With `fallbacks`,
    the chain of models that may answer (found before admission, whose budget reservation covers its dearest);
    else the model alone."""
    services = services_of(request)
    # Authorise and admit before anything reaches Bedrock: a `kb:` model's search embeds the question, so it waits
    # until the caller is known to be allowed the knowledge base and the answering model, and within its limits.
    knowledge = [await knowledge_chat(request, principal, c) if c.model.startswith(KB_PREFIX) else None for c in chats]
    chats = [k.chat if k is not None else chat for chat, k in zip(chats, knowledge, strict=True)]
    first = chats[0]
    model = await services.catalog.resolve(first.model)
    exchange = exchange_of(request)
    exchange.model, exchange.stream = model.id, first.stream
    outputs = output_reserve(model, first.max_completion_tokens or first.max_tokens) * len(chats)
    passages = sum(k.passage_tokens for k in knowledge if k is not None)
    chain = await fallback_chain(request, services, principal, model) if fallbacks else (model,)
    tokens = prompt_tokens + outputs + passages
    tier = bedrock_tier(OPENAI_SERVICE_TIERS[first.service_tier or "auto"], services.settings.models, model)
    await services.admit(request, principal, model, tokens, max_output=outputs, fallbacks=chain[1:], service_tier=tier)
    calls: list[ChatCall] = []
    for chat, found in zip(chats, knowledge, strict=True):
        turn = await found.search() if found is not None else None
        calls.append(await _planned(request, principal, turn.chat if turn is not None else chat, model, turn))
    return calls, chain


async def _planned(
    request: Request,
    principal: Principal,
    chat: ChatCompletionRequest,
    model: ResolvedModel,
    turn: KnowledgeTurn | None,
) -> ChatCall:
    """`chat`'s Converse plan for `model`, under the guardrail that applies to the key and that model."""
    services = services_of(request)
    history = await to_converse(chat.messages, services.load_image, system_messages=model.facts.system_messages)
    plan = plan_chat(chat, model, history, services.settings.models)
    guard_converse(plan.body, await services.guardrail(principal, model), stream=chat.stream)
    return ChatCall(plan, turn, chat)
