"""The seam between knowledge bases and where they are kept: one Protocol, one file per implementation
(`_sqlite_store.py`: a SQLite file per knowledge base; `_postgres_store.py`: pgvector tables)."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from quarry.kb._models import ChunkRecord, DocumentRecord, KnowledgeBaseConfig, Ownership, Registered, ScoredChunk

__all__ = ["BM25_B", "BM25_K1", "KnowledgeStore", "StoreBackend", "Vectors", "bm25_idf", "informative", "search_terms"]

Vectors = npt.NDArray[np.float32]  # shape (n, dimensions), unit length rows

_WORD = re.compile(r"[^\W_]+")  # what SQLite's unicode61 and PostgreSQL's parser call a word: letters and digits
_MAX_TERMS = 64
# Both stores rank keywords by BM25 as SQLite's FTS5 computes it, so they rank alike
BM25_K1 = 1.2
BM25_B = 0.75


def search_terms(text: str) -> list[str]:
    """A keyword query's distinct words, lowercased, at most 64: plain words, whatever syntax the text was meant to
    have, so no user text is ever misread as query syntax by FTS5 or to_tsquery."""
    return list(dict.fromkeys(word.lower() for word in _WORD.findall(text)))[:_MAX_TERMS]


def bm25_idf(total: int, count: int) -> float:
    """FTS5's IDF of a word in `count` of `total` chunks: at least 1e-6, which words in half the chunks or more get."""
    return max(math.log((total - count + 0.5) / (count + 0.5)), 1e-6)


def informative(counts: Mapping[str, int], total: int) -> list[str]:
    """The words of a query worth looking up, rarest first: those in some chunk, less those in half the chunks or
    more (all but the rarest when all are). Their IDF is 1e-6, so they cannot reorder the chunks that hold the other
    words, yet they make nearly every chunk match."""
    found = sorted((word for word, count in counts.items() if count), key=counts.__getitem__)
    return [word for word in found if 2 * counts[word] < total] or found[:1]


class KnowledgeStore(Protocol):
    """One knowledge base's documents, chunks and vectors.

    Every write is one transaction: a reader (another process included) sees a document whole or not at all.
    Searches take `documents`, the ids a filter allows (None: all).
    """

    config: KnowledgeBaseConfig

    async def documents(self) -> list[DocumentRecord]:
        """Every document, oldest first."""
        ...

    async def put_document(
        self, document: DocumentRecord, chunks: Sequence[ChunkRecord], vectors: Vectors, *, replaces: str | None
    ) -> None:
        """Insert `document` with its chunks and their vectors (row i of `vectors` is chunk i's), removing the
        document whose id is `replaces` in the same transaction."""
        ...

    async def remove_documents(self, ids: Collection[str]) -> int:
        """Remove documents and their chunks; the number removed."""
        ...

    async def keyword_search(
        self, text: str, limit: int, documents: Collection[str] | None = None
    ) -> list[ScoredChunk]:
        """Best `limit` chunks by full-text rank (BM25 or equal), best first. Any of the query's words may match;
        text that is not valid query syntax is searched as plain words, never an error."""
        ...

    async def vector_search(
        self, vector: Vectors, limit: int, documents: Collection[str] | None = None
    ) -> list[ScoredChunk]:
        """Nearest `limit` chunks by cosine similarity to `vector` (shape (dimensions,)), best first."""
        ...

    async def chunks(self, ids: Sequence[str]) -> list[tuple[ChunkRecord, DocumentRecord]]:
        """The chunks with these ids and their documents, in the order asked (missing ids left out)."""
        ...

    async def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        ...

    async def close(self) -> None: ...


class StoreBackend(Protocol):
    """Where knowledge bases live, and the register of them (their configs and ownership, managed ones included)."""

    async def names(self) -> list[str]:
        """Every knowledge base, by name, sorted."""
        ...

    async def config(self, name: str) -> KnowledgeBaseConfig | None: ...

    async def registered(self, name: str) -> Registered | None:
        """The config and the ownership, read now (another process may have changed the ownership)."""
        ...

    async def create(self, config: KnowledgeBaseConfig, ownership: Ownership | None = None) -> None:
        """Register a knowledge base with its owner, the admin when None (and make its storage when local).
        Raises `quarry.errors.Conflict` when the name is taken."""
        ...

    async def set_ownership(self, name: str, ownership: Ownership) -> bool:
        """Replace who owns a knowledge base and whom it is shared with; False when there is none."""
        ...

    async def open(self, name: str) -> KnowledgeStore:
        """The store of a local knowledge base; `quarry.errors.NotFound` when there is none. Cached: the same
        object each time until `drop` or `close`."""
        ...

    async def drop(self, name: str) -> bool:
        """Remove a knowledge base and everything in it; False when there was none."""
        ...

    async def close(self) -> None: ...
