"""Request bodies of the knowledge-base API. Retrieve takes the shape of bedrock-agent-runtime's Retrieve."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AnswerRequest",
    "ChangeKnowledgeBase",
    "CreateKnowledgeBase",
    "RetrieveRequest",
]


class CreateKnowledgeBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    embedding_model: str | None = None
    dimensions: int | None = Field(default=None, gt=0)
    chunk_tokens: int | None = Field(default=None, ge=20, le=8192)
    overlap: float | None = Field(default=None, ge=0, le=0.5)
    hierarchical: bool = False
    parent_tokens: int | None = Field(default=None, gt=0)
    # A managed Bedrock knowledge base instead of a local one:
    knowledge_base_id: str | None = None
    search_type: Literal["HYBRID", "SEMANTIC"] | None = None


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grantee: str = Field(min_length=1, description="`key:ID` (or a bare key id), `user:ID`, or `*` for every caller.")
    access: Literal["read"] = "read"


class ChangeKnowledgeBase(BaseModel):
    """PATCH /v1/knowledge-bases/{name}: what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    shared_with: list[GrantRequest] | None = Field(default=None, max_length=1000, description="Replaces the list.")
    owner: str | None = Field(default=None, description="The admin only: `admin`, `key:ID` or `user:ID`.")


class _RetrievalQuery(BaseModel):
    text: str = Field(min_length=1)


class _VectorSearch(BaseModel):
    numberOfResults: int = Field(default=5, ge=1, le=100)  # Bedrock's field names
    overrideSearchType: Literal["HYBRID", "SEMANTIC"] | None = None
    filter: dict[str, Any] | None = None


class _RetrievalConfiguration(BaseModel):
    vectorSearchConfiguration: _VectorSearch = Field(default_factory=_VectorSearch)


class RetrieveRequest(BaseModel):
    retrievalQuery: _RetrievalQuery
    retrievalConfiguration: _RetrievalConfiguration = Field(default_factory=_RetrievalConfiguration)
    nextToken: str | None = None  # accepted; every result fits in one page
    # Quarry's additions: a keyword-only search, and a floor under the scores returned.
    searchMode: Literal["hybrid", "keyword", "vector"] | None = None
    minScore: float = Field(default=0.0, ge=0, le=1)


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1)
    model: str | None = None
    stream: bool = False
    top_k: int | None = Field(default=None, ge=1, le=100)
    filter: dict[str, Any] | None = None
    search_mode: Literal["hybrid", "keyword", "vector"] = "hybrid"
    min_score: float = Field(default=0.0, ge=0, le=1)
