"""Answers from passages: the model gets numbered passages and must cite them as [n]; each [n] is resolved to its
source. When nothing relevant was retrieved, the answer says so without asking a model to guess."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from quarry.bedrock import BedrockRuntime, ConverseRequest, GuardrailStreamConfiguration, facts_for
from quarry.kb._models import Hit

__all__ = [
    "Answer",
    "answer_body",
    "citation_marks",
    "cited_numbers",
    "nothing_found",
    "relevant_hits",
    "source_json",
    "stream_answer",
    "system_prompt",
]

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_INSTRUCTIONS = """You answer questions from the numbered passages of the knowledge base "{name}" below.
Rules:
- Use only what the passages say. Cite the passage behind every statement with its number in square brackets, \
like [1] or [2][3], right after the statement.
- If the passages do not contain the answer, say that the knowledge base does not cover it; do not guess and \
do not use outside knowledge.
- Answer in the language of the question.

Passages:
"""


def relevant_hits(hits: Sequence[Hit], min_similarity: float) -> list[Hit]:
    """The hits worth answering from: a topical keyword matched, or the vector is close enough."""
    return [
        hit
        for hit in hits
        if hit.keyword_score is not None
        or (hit.vector_score is not None and hit.vector_score >= min_similarity)
        or (hit.keyword_score is None and hit.vector_score is None)  # a managed knowledge base: Bedrock judged it
    ]


def nothing_found(name: str) -> str:
    return f'The knowledge base "{name}" has nothing relevant to this question, so I cannot answer it from there.'


def _label(hit: Hit) -> str:
    parts = [hit.document.name]
    if hit.chunk.page is not None:
        parts.append(f"page {hit.chunk.page}")
    if hit.chunk.headings:
        parts.append(" > ".join(hit.chunk.headings))
    return ", ".join(parts)


def system_prompt(name: str, hits: Sequence[Hit]) -> str:
    """The instructions and the passages, numbered from 1 in the order given."""
    passages = "\n\n".join(f"[{n}] ({_label(hit)})\n{hit.passage.strip()}" for n, hit in enumerate(hits, start=1))
    return _INSTRUCTIONS.format(name=name) + passages


def cited_numbers(text: str, count: int) -> list[int]:
    """The passage numbers an answer cites, in order of first citation; numbers beyond `count` are ignored."""
    cited: list[int] = []
    for group in _CITATION.findall(text):
        for number in (int(part) for part in group.split(",")):
            if 1 <= number <= count and number not in cited:
                cited.append(number)
    return cited


def citation_marks(text: str, count: int) -> list[tuple[int, int]]:
    """Where an answer cites passages: (offset of the `[n]` mark in `text`, n) for each number in each mark, in
    order; numbers beyond `count` are ignored (the Responses API's file_citation annotations are placed by them)."""
    return [
        (match.start(), number)
        for match in _CITATION.finditer(text)
        for number in (int(part) for part in match.group(1).split(","))
        if 1 <= number <= count
    ]


def source_json(number: int, hit: Hit, *, cited: bool) -> dict[str, Any]:
    """One numbered source as the HTTP API, the CLI and the UI show it."""
    return {
        "n": number,
        "cited": cited,
        "document": hit.document.name,
        "document_id": hit.document.id,
        "source": hit.document.source,
        "page": hit.chunk.page,
        "headings": list(hit.chunk.headings),
        "chunk_id": hit.chunk.id,
        "text": hit.passage,
        "score": round(hit.score, 6),
    }


@dataclass(slots=True)
class Answer:
    text: str
    hits: list[Hit]
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None

    @property
    def citations(self) -> list[int]:
        return cited_numbers(self.text, len(self.hits))

    def sources(self) -> list[dict[str, Any]]:
        cited = set(self.citations)
        return [source_json(n, hit, cited=n in cited) for n, hit in enumerate(self.hits, start=1)]

    def to_json(self) -> dict[str, Any]:
        found = {"answer": self.text, "citations": self.citations, "sources": self.sources(), "usage": self.usage}
        if self.stop_reason is not None:  # Converse's: `guardrail_intervened` says a guardrail answered instead
            found["stop_reason"] = self.stop_reason
        return found


def answer_body(name: str, question: str, hits: Sequence[Hit], *, max_tokens: int) -> ConverseRequest:
    """The Converse request that answers `question` from `hits`."""
    return {
        "system": [{"text": system_prompt(name, hits)}],
        "messages": [{"role": "user", "content": [{"text": question}]}],
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.2},
    }


async def stream_answer(
    runtime: BedrockRuntime,
    model_id: str,
    name: str,
    question: str,
    hits: list[Hit],
    *,
    max_tokens: int,
    guardrail: GuardrailStreamConfiguration | None = None,
) -> AsyncIterator[str | Answer]:
    """The answer as it is written: each piece of text, then the whole Answer; `guardrail` judges the question and
    the answer (Converse's guardrailConfig)."""
    answer = Answer(text="", hits=hits)
    if not hits:
        answer.text = nothing_found(name)
        yield answer.text
        yield answer
        return
    body = answer_body(name, question, hits, max_tokens=max_tokens)
    if facts_for(model_id).sampling_default_only:  # Claude 4.7 and later refuse any temperature but the default
        body["inferenceConfig"].pop("temperature")
    if guardrail is not None:
        body["guardrailConfig"] = guardrail
    async with runtime.converse_stream(model_id, body) as events:
        async for event in events:
            if "contentBlockDelta" in event:
                piece = event["contentBlockDelta"]["delta"].get("text")
                if piece:
                    answer.text += piece
                    yield piece
            elif "messageStop" in event:
                answer.stop_reason = event["messageStop"]["stopReason"]
            elif "metadata" in event:
                usage = event["metadata"]["usage"]
                answer.usage = {
                    "input_tokens": usage.get("inputTokens", 0),
                    "output_tokens": usage.get("outputTokens", 0),
                }
    yield answer
