"""The `file_search` tool (https://platform.openai.com/docs/guides/tools-file-search) over Quarry's knowledge bases:
`vector_store_ids` name knowledge bases the caller may read. Quarry runs the search itself, before the model is
asked (the last user message is the query), gives the model the passages numbered as the `kb:NAME` chat models do
(quarry.kb's prompt: cite each passage used as [n]), and answers with a `file_search_call` output item (its results
with `include: ["file_search_call.results"]`) before the message, whose text carries a `file_citation` annotation at
each [n] it cites (https://platform.openai.com/docs/api-reference/responses/object#output_text-annotations).

OpenAI's filters (ComparisonFilter eq/ne/gt/gte/lt/lte/in/nin, CompoundFilter and/or) become Bedrock's
RetrievalFilter, which every Quarry knowledge base evaluates over document fields and metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quarry.api._context import AppContext
from quarry.api._core import ConverseHistory
from quarry.auth import Principal
from quarry.errors import InvalidRequest

if TYPE_CHECKING:
    from quarry.kb import Hit, KnowledgeBase

__all__ = ["FILE_SEARCH", "RESULTS", "FileSearch", "FileSearchCall", "file_search_of"]

FILE_SEARCH = "file_search"
RESULTS = "file_search_call.results"
_MAX_RESULTS = 50  # FileSearchTool.max_num_results: "between 1 and 50 inclusive"
_COMPARISONS = {"eq": "equals", "ne": "notEquals", "gt": "greaterThan", "gte": "greaterThanOrEquals",
                "lt": "lessThan", "lte": "lessThanOrEquals", "in": "in", "nin": "notIn"}  # fmt: skip
_SCALARS = (str, int, float, bool)


def _filter(spec: object, where: str) -> dict[str, Any]:
    """An OpenAI filter as Bedrock's RetrievalFilter; InvalidRequest naming the place at fault."""
    if not isinstance(spec, dict):
        raise InvalidRequest(f"Invalid value for `{where}`: must be an object.", param=where)
    kind = spec.get("type")
    if kind in ("and", "or"):
        filters = spec.get("filters")
        if not isinstance(filters, list) or not filters:
            raise InvalidRequest(f"`{where}.filters` must be a non-empty array.", param=f"{where}.filters")
        parts = [_filter(part, f"{where}.filters[{n}]") for n, part in enumerate(filters)]
        # Bedrock's andAll and orAll take two filters or more.
        return parts[0] if len(parts) == 1 else {"andAll" if kind == "and" else "orAll": parts}
    if kind not in _COMPARISONS:
        raise InvalidRequest(
            f"Invalid value for `{where}.type`: must be eq, ne, gt, gte, lt, lte, in, nin, and or or.",
            param=f"{where}.type",
        )
    key, value = spec.get("key"), spec.get("value")
    if not isinstance(key, str) or not key:
        raise InvalidRequest(f"Invalid value for `{where}.key`: must be a non-empty string.", param=f"{where}.key")
    listed = isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value)
    if not (listed if kind in ("in", "nin") else isinstance(value, _SCALARS)):
        wanted = "an array of strings or numbers" if kind in ("in", "nin") else "a string, number or boolean"
        raise InvalidRequest(f"Invalid value for `{where}.value`: must be {wanted}.", param=f"{where}.value")
    return {_COMPARISONS[kind]: {"key": key, "value": value}}


def _names(tool: dict[str, Any], where: str) -> list[str]:
    names = tool.get("vector_store_ids")
    if not isinstance(names, list) or not names or not all(isinstance(name, str) and name for name in names):
        raise InvalidRequest(
            f"Invalid value for `{where}.vector_store_ids`: must be a non-empty array of knowledge-base names.",
            param=f"{where}.vector_store_ids",
        )
    return list(dict.fromkeys(names))


def _max_results(tool: dict[str, Any], where: str, default: int) -> int:
    given = tool.get("max_num_results")
    if given is None:
        return min(default, _MAX_RESULTS)
    if not isinstance(given, int) or isinstance(given, bool) or not 1 <= given <= _MAX_RESULTS:
        raise InvalidRequest(
            f"Invalid value for `{where}.max_num_results`: must be an integer from 1 to {_MAX_RESULTS}.",
            param=f"{where}.max_num_results",
        )
    return given


def question_of(history: ConverseHistory) -> str:
    """What to search for: the text of the last user message (tool results are not a question)."""
    for message in reversed(history.messages):
        if message["role"] != "user":
            continue
        text = "\n".join(block["text"] for block in message["content"] if "text" in block).strip()
        if text:
            return text
    raise InvalidRequest("file_search needs a user message with text to search for.", param="input")


@dataclass(frozen=True, slots=True)
class FileSearchCall:
    """A search done: its output item, the passages for the model, the annotations of an answer that cites them."""

    id: str
    question: str
    hits: list[Hit]
    label: str  # the knowledge bases searched, as the prompt names them
    with_results: bool  # include: ["file_search_call.results"]

    def item(self, status: str = "completed") -> dict[str, Any]:
        results = None
        if self.with_results and status == "completed":
            results = [
                {
                    "file_id": hit.document.id,
                    "filename": hit.document.name,
                    "score": round(hit.score, 6),
                    "text": hit.passage,
                    "attributes": _attributes(hit),
                }
                for hit in self.hits
            ]
        return {"id": self.id, "type": "file_search_call", "status": status, "queries": [self.question],
                "results": results}  # fmt: skip

    def instructions(self) -> str:
        """The passages, numbered, with the rule to cite them: a system prompt for the model."""
        from quarry.kb import system_prompt

        return system_prompt(self.label, self.hits)

    def annotations(self, text: str) -> list[dict[str, Any]]:
        """A `file_citation` at each [n] of `text` that names a passage."""
        from quarry.kb import citation_marks

        return [
            {
                "type": "file_citation",
                "file_id": self.hits[n - 1].document.id,
                "filename": self.hits[n - 1].document.name,
                "index": index,
            }
            for index, n in citation_marks(text, len(self.hits))
        ]

    def events(self, event: Callable[..., bytes], output_index: int) -> list[bytes]:
        """The search's stream events, in OpenAI's order (the search itself ran before the model was asked)."""
        ids = {"output_index": output_index, "item_id": self.id}
        return [
            event("response.output_item.added", output_index=output_index, item=self.item("in_progress")),
            event("response.file_search_call.in_progress", **ids),
            event("response.file_search_call.searching", **ids),
            event("response.file_search_call.completed", **ids),
            event("response.output_item.done", output_index=output_index, item=self.item()),
        ]


def _attributes(hit: Hit) -> dict[str, str | float | bool]:
    """A result's attributes (at most 16 scalar values): the document's metadata, as a vector store file's."""
    scalars = {key: value for key, value in hit.document.metadata.items() if isinstance(value, _SCALARS)}
    return dict(list(scalars.items())[:16])


@dataclass(frozen=True, slots=True)
class FileSearch:
    """A request's file_search tool, checked: the knowledge bases (readable by the caller, opened), the number of
    results, the filter. Nothing upstream has been called yet, so the request can still be refused for free."""

    bases: list[KnowledgeBase]
    max_results: int
    filter: dict[str, Any] | None
    with_results: bool

    @property
    def passage_tokens(self) -> int:
        """The most the passages can add to the prompt, for the token estimate admission takes."""
        sizes = [b.config.parent_tokens if b.config.hierarchical else b.config.chunk_tokens for b in self.bases]
        return self.max_results * max(sizes)

    async def search(self, history: ConverseHistory, new_id: Callable[[str], str]) -> FileSearchCall:
        """Search every knowledge base (an embedding call each) for the last user message; the best results."""
        from quarry.kb import Query

        question = question_of(history)
        hits: list[Hit] = []
        for base in self.bases:
            query = Query(text=question, top_k=self.max_results, filter=self.filter)
            hits += await base.passages(question, query)
        hits.sort(key=lambda hit: hit.score, reverse=True)
        label = ", ".join(base.name for base in self.bases)
        return FileSearchCall(new_id("fs"), question, hits[: self.max_results], label, self.with_results)


async def file_search_of(
    context: AppContext, principal: Principal, tools: list[dict[str, Any]] | None, include: list[str] | None, *,
    default_results: int,
) -> FileSearch | None:  # fmt: skip
    """The request's file_search tool, checked (one at most), or None; a knowledge base the caller may not read is a
    404 naming it, as a missing one is."""
    found = [(n, tool) for n, tool in enumerate(tools or ()) if tool.get("type") == FILE_SEARCH]
    if not found:
        return None
    if len(found) > 1:
        where = f"tools[{found[1][0]}]"
        raise InvalidRequest("Only one file_search tool may be given; name every knowledge base in it.", param=where)
    n, tool = found[0]
    where = f"tools[{n}]"
    names = _names(tool, where)
    max_results = _max_results(tool, where, default_results)
    given = tool.get("filters")
    rule = None if given is None else _filter(given, f"{where}.filters")
    bases = [
        await context.readable_knowledge_base(principal, name, param=f"{where}.vector_store_ids[{i}]")
        for i, name in enumerate(names)
    ]
    return FileSearch(bases, max_results, rule, RESULTS in (include or ()))
