"""Hybrid retrieval over a local knowledge base: a keyword (BM25) and a vector search, fused by reciprocal rank.

Scores handed to callers are in [0, 1]: for hybrid and keyword searches the fused rank score divided by its
best possible value (1.0 = first in every list), for vector searches the cosine similarity.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from quarry.errors import InvalidRequest
from quarry.kb._embedding import Embedder
from quarry.kb._filters import allowed_documents
from quarry.kb._models import Hit, Query, ScoredChunk
from quarry.kb._store import KnowledgeStore

__all__ = ["LocalRetriever", "keyword_text", "reciprocal_rank_fusion"]

RRF_K = 60  # the constant of Cormack et al. (the function's default); knowledge bases use settings.kb.rrf_k
_WORD = re.compile(r"\w+")
# Words that carry no topic: left out of the keyword query so that only a topical word counts as a keyword match.
_STOPWORDS = frozenset(
    """a about after all also am an and any are as at be been being but by can could did do does doing for from
    had has have having he her here hers him his how i if in into is it its just me more most my no nor not of off
    on once only or other our out over own same she should so some such than that the their them then there these
    they this those through to too under until up very was we were what when where which while who whom why will
    with would you your yours""".split()  # noqa: SIM905  # a paragraph of words reads better than 100 strings
)


def keyword_text(text: str) -> str:
    """The query's topical words (stopwords dropped); the whole text when it has no others."""
    words = _WORD.findall(text)
    topical = [word for word in words if word.lower() not in _STOPWORDS]
    return " ".join(topical or words)


def reciprocal_rank_fusion(
    lists: Sequence[Sequence[ScoredChunk]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Chunk ids by fused score, best first: the sum over lists of weight / (k + rank), ranks from 1."""
    fused: dict[str, float] = {}
    for index, ranked in enumerate(lists):
        weight = weights[index] if weights is not None else 1.0
        for rank, item in enumerate(ranked, start=1):
            fused[item.chunk_id] = fused.get(item.chunk_id, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: pair[1], reverse=True)


class LocalRetriever:
    """Searches one local knowledge base."""

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        *,
        candidates: int = 50,
        rrf_k: int = RRF_K,
        keyword_weight: float = 1.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self._candidates = candidates  # how deep each list is read before fusion
        self._k = rrf_k
        self._keyword_weight = keyword_weight

    async def retrieve(self, query: Query) -> list[Hit]:
        text = query.text.strip()
        if not text:
            raise InvalidRequest("The query is empty.", param="query")
        if not 1 <= query.top_k <= 100:
            raise InvalidRequest("top_k (numberOfResults) must be between 1 and 100.", param="top_k")
        allowed = allowed_documents(query.filter, await self.store.documents()) if query.filter else None
        if allowed is not None and not allowed:
            return []
        depth = max(self._candidates, query.top_k)
        keyword: list[ScoredChunk] = []
        vector: list[ScoredChunk] = []

        async def by_keyword() -> None:
            keyword.extend(await self.store.keyword_search(keyword_text(text), depth, allowed))

        async def by_vector() -> None:
            embedding = await self.embedder.embed_query(text)
            vector.extend(await self.store.vector_search(embedding, depth, allowed))

        searches = {"hybrid": (by_keyword, by_vector), "keyword": (by_keyword,), "vector": (by_vector,)}[query.mode]
        await asyncio.gather(*(search() for search in searches))
        weighted = [(keyword, self._keyword_weight), (vector, 1.0)]
        used = [(ranked, weight) for ranked, weight in weighted if ranked or query.mode != "hybrid"]
        lists, weights = [ranked for ranked, _ in used], [weight for _, weight in used]
        best_possible = sum(weights) / (self._k + 1) if lists else 1.0
        keyword_scores = {item.chunk_id: item.score for item in keyword}
        vector_scores = {item.chunk_id: item.score for item in vector}
        ranked: list[tuple[str, float]] = []
        for chunk_id, fused in reciprocal_rank_fusion(lists, self._k, weights):
            score = vector_scores[chunk_id] if query.mode == "vector" else fused / best_possible
            if score >= query.min_score:
                ranked.append((chunk_id, max(0.0, min(1.0, score))))
        scores = dict(ranked)
        hits: list[Hit] = []
        seen: set[tuple[str, str]] = set()
        # Read a top_k at a time: a passage seen already (the same content stored twice, by a knowledge base written
        # before one document had one identity) is left out, and the next one read in its place.
        while ranked and len(hits) < query.top_k:
            batch, ranked = ranked[: query.top_k], ranked[query.top_k :]
            for chunk, document in await self.store.chunks([chunk_id for chunk_id, _ in batch]):
                passage = (document.content_hash, chunk.text)
                if passage in seen or len(hits) == query.top_k:
                    continue
                seen.add(passage)
                hits.append(
                    Hit(
                        chunk=chunk,
                        document=document,
                        score=scores[chunk.id],
                        keyword_score=keyword_scores.get(chunk.id),
                        vector_score=vector_scores.get(chunk.id),
                    )
                )
        return hits
