"""`kb:NAME` and `kb:NAME:MODEL` as chat models: the last user message is searched in the knowledge base, the
passages go to the model as a numbered system message, and the sources come back with the message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from quarry.api._context import context_of
from quarry.api.openai._schemas import ChatCompletionRequest, ChatMessage
from quarry.auth import KB_PREFIX, Principal
from quarry.bedrock import ConverseResponse, ConverseStreamEvent
from quarry.errors import InvalidRequest
from quarry.observability import Tracing, retrieval_attributes, traced

if TYPE_CHECKING:
    from quarry.kb import Hit, KnowledgeBase

__all__ = ["KB_PREFIX", "KnowledgeChat", "KnowledgeTurn", "knowledge_chat"]


def _question(chat: ChatCompletionRequest) -> str:
    for message in reversed(chat.messages):
        if message.role != "user":
            continue
        if isinstance(message.content, str):
            return message.content
        texts = [part.get("text", "") for part in message.content or [] if part.get("type") == "text"]
        return "\n".join(text for text in texts if text)
    return ""


@dataclass(slots=True)
class KnowledgeTurn:
    """A chat turn answered from a knowledge base: the request as the model gets it, and the passages."""

    chat: ChatCompletionRequest
    name: str
    hits: list[Hit]

    def sources(self, answer: str | None = None) -> list[dict[str, Any]]:
        from quarry.kb import cited_numbers, source_json

        cited = set(cited_numbers(answer, len(self.hits))) if answer is not None else set()
        return [source_json(n, hit, cited=n in cited) for n, hit in enumerate(self.hits, start=1)]

    def nothing_found(self) -> str:
        from quarry.kb import nothing_found

        return nothing_found(self.name)


@dataclass(slots=True)
class KnowledgeChat:
    """A `kb:` chat checked but not yet searched: the caller may use the knowledge base, it exists, there is a
    question. Nothing upstream has been called, so the request can still be refused for free."""

    chat: ChatCompletionRequest  # names the answering model; the passages are not in it yet
    base: KnowledgeBase
    question: str
    passage_tokens: int  # the most the passages can add to the prompt, for the token estimate admission takes
    tracing: Tracing | None = None  # the search is a `retrieval` span when tracing is on

    async def search(self) -> KnowledgeTurn:
        """Search the knowledge base (an embedding call) and put its passages in front of the conversation."""
        from quarry.kb import system_prompt

        with traced(self.tracing, "retrieval", retrieval_attributes(self.base.name)):
            hits = await self.base.passages(self.question)
        system = ChatMessage(role="system", content=system_prompt(self.base.name, hits))
        chat = self.chat.model_copy(update={"messages": [system, *self.chat.messages]})
        return KnowledgeTurn(chat=chat, name=self.base.name, hits=hits)


async def knowledge_chat(request: Request, principal: Principal, chat: ChatCompletionRequest) -> KnowledgeChat:
    """Check a `kb:NAME` or `kb:NAME:MODEL` chat without calling Bedrock: access, existence, a question."""

    settings = context_of(request).settings
    name, _, model = chat.model.removeprefix(KB_PREFIX).partition(":")
    base = await context_of(request).readable_knowledge_base(principal, name, param="model")
    question = _question(chat)
    if not question.strip():
        raise InvalidRequest("A knowledge-base chat needs a user message with text to search for.", param="messages")
    answering = model or settings.kb.answer_model or settings.models.default
    config = base.config
    passage_tokens = settings.kb.top_k * (config.parent_tokens if config.hierarchical else config.chunk_tokens)
    tracing = context_of(request).services.tracing
    return KnowledgeChat(chat.model_copy(update={"model": answering}), base, question, passage_tokens, tracing)


def canned_answer(text: str) -> ConverseResponse:
    """A Converse answer Quarry writes itself (nothing relevant was found: no model is asked to guess)."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
    }


async def canned_events(text: str) -> AsyncIterator[ConverseStreamEvent]:
    """The same answer as ConverseStream events."""
    yield {"messageStart": {"role": "assistant"}}
    yield {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": text}}}
    yield {"contentBlockStop": {"contentBlockIndex": 0}}
    yield {"messageStop": {"stopReason": "end_turn"}}
    yield {"metadata": {"usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}, "metrics": {}}}
