"""What a knowledge base is made of: its settings, documents, chunks, and the hits a search returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ChunkDraft",
    "ChunkRecord",
    "DocumentRecord",
    "Grant",
    "Hit",
    "KnowledgeBaseConfig",
    "LoadedDocument",
    "Ownership",
    "Query",
    "Registered",
    "ScoredChunk",
    "Section",
    "valid_name",
]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def valid_name(name: str) -> bool:
    """Knowledge-base names are lowercase letters, digits, `-` and `_` (they become file and table names)."""
    return _NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class KnowledgeBaseConfig:
    """A knowledge base's name and settings, fixed when it is created (the embedding model decides the vectors)."""

    name: str
    kind: Literal["local", "bedrock"] = "local"
    embedding_model: str = "amazon.titan-embed-text-v2:0"
    dimensions: int = 1024
    chunk_tokens: int = 300
    overlap: float = 0.2  # a share of chunk_tokens, as Bedrock Knowledge Bases gives it
    hierarchical: bool = False  # children of chunk_tokens are searched; their parent of parent_tokens is answered
    parent_tokens: int = 1500
    description: str = ""
    created_at: float = 0.0
    # kind == "bedrock": a managed Bedrock knowledge base queried through bedrock-agent-runtime Retrieve
    knowledge_base_id: str | None = None
    search_type: Literal["HYBRID", "SEMANTIC"] | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KnowledgeBaseConfig:
        return cls(**{key: value for key, value in data.items() if key in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class Grant:
    """Access to a knowledge base given to `grantee` (a string `quarry.auth` reads: `key:ID`, `user:ID`, `*`)."""

    grantee: str
    access: Literal["read"] = "read"

    def to_json(self) -> dict[str, Any]:
        return {"grantee": self.grantee, "access": self.access}


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who a knowledge base belongs to and who else may read it. Unlike the config it changes (sharing, a transfer);
    `owner` None is the admin's, which every knowledge base made before owners were recorded is."""

    owner: str | None = None
    shared_with: tuple[Grant, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"owner": self.owner, "shared_with": [grant.to_json() for grant in self.shared_with]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ownership:
        grants = tuple(Grant(grant["grantee"], grant.get("access", "read")) for grant in data.get("shared_with", []))
        return cls(owner=data.get("owner"), shared_with=grants)


@dataclass(frozen=True, slots=True)
class Registered:
    """A knowledge base as the register knows it: its config and its ownership, nothing opened."""

    config: KnowledgeBaseConfig
    ownership: Ownership

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def owner(self) -> str | None:
        return self.ownership.owner

    @property
    def shared_with(self) -> tuple[Grant, ...]:
        return self.ownership.shared_with


@dataclass(frozen=True, slots=True)
class Section:
    """A run of a document's text under one heading path, on one page (PDF) — what a loader yields."""

    text: str
    page: int | None = None  # 1-based, PDFs only
    headings: tuple[str, ...] = ()  # outermost first
    start: int = 0  # character offset of `text` in the document's full text (sections joined by "\n\n")


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    sections: list[Section]
    media_type: str  # application/pdf, text/markdown, text/html, text/plain
    title: str | None = None
    pages: int | None = None


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    """A chunk as the chunker cuts it, before it has an id or a vector."""

    text: str
    page: int | None
    start: int  # character offsets in the document's full text
    end: int
    headings: tuple[str, ...] = ()
    parent: str | None = None  # hierarchical chunking: the larger passage this child belongs to


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    id: str
    source: str  # absolute path for ingested files, the upload's file name for uploads
    name: str  # what people call it: the file name
    content_hash: str  # sha256 of the bytes
    media_type: str
    chunks: int = 0
    pages: int | None = None
    title: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    added_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["tags"] = list(self.tags)
        return data


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A stored chunk. `id` is a UUID string (the Aurora layout's primary key)."""

    id: str
    document_id: str
    ordinal: int  # position in its document
    text: str
    page: int | None = None
    start: int = 0
    end: int = 0
    headings: tuple[str, ...] = ()
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """One result of a store's keyword or vector search: higher scores are better (BM25 or cosine similarity)."""

    chunk_id: str
    score: float


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved passage with its document and scores."""

    chunk: ChunkRecord
    document: DocumentRecord
    score: float  # what the caller ranks and filters by, in [0, 1]
    keyword_score: float | None = None  # BM25 (or ts_rank) when the keyword search found it
    vector_score: float | None = None  # cosine similarity when the vector search found it

    @property
    def passage(self) -> str:
        """The text a model answers from: the parent passage under hierarchical chunking, else the chunk."""
        return self.chunk.parent or self.chunk.text


@dataclass(frozen=True, slots=True)
class Query:
    """A search of a knowledge base. `filter` is Bedrock's RetrievalFilter (equals, in, listContains, andAll, …)
    over document fields (source, name, tags) and metadata keys."""

    text: str
    top_k: int = 5
    mode: Literal["hybrid", "keyword", "vector"] = "hybrid"  # a managed knowledge base: hybrid → HYBRID, else SEMANTIC
    filter: dict[str, Any] | None = None
    min_score: float = 0.0
