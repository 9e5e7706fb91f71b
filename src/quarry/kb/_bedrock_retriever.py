"""A managed Bedrock Knowledge Base as a retriever: Retrieve's results turned into Quarry's hits."""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

from quarry.bedrock import BedrockAgentRuntime
from quarry.errors import InvalidRequest
from quarry.kb._models import ChunkRecord, DocumentRecord, Hit, KnowledgeBaseConfig, Query

__all__ = ["BedrockRetriever", "hit_from_result"]

MAX_RESULTS = 100  # Retrieve's ceiling on numberOfResults
SOURCE_URI = "x-amz-bedrock-kb-source-uri"
PAGE_NUMBER = "x-amz-bedrock-kb-document-page-number"
CHUNK_ID = "x-amz-bedrock-kb-chunk-id"
# Where each data source type puts the document's address inside a result's `location`.
_LOCATIONS = (
    ("s3Location", "uri"),
    ("webLocation", "url"),
    ("confluenceLocation", "url"),
    ("salesforceLocation", "url"),
    ("sharePointLocation", "url"),
    ("oneDriveLocation", "url"),
    ("googleDriveLocation", "url"),
    ("kendraDocumentLocation", "uri"),
    ("customDocumentLocation", "id"),
    ("sqlLocation", "query"),
)


class BedrockRetriever:
    """Searches a Bedrock knowledge base (`config.kind == "bedrock"`) through bedrock-agent-runtime Retrieve."""

    def __init__(self, agent: BedrockAgentRuntime, config: KnowledgeBaseConfig) -> None:
        if not config.knowledge_base_id:
            raise InvalidRequest(f"knowledge base {config.name} has no Bedrock knowledge base id")
        self.agent = agent
        self.config = config
        self.knowledge_base_id = config.knowledge_base_id

    def search_type(self, query: Query) -> str:
        """HYBRID for hybrid queries (unless the knowledge base says otherwise), else SEMANTIC: Bedrock has no
        keyword-only search."""
        if query.mode == "hybrid":
            return self.config.search_type or "HYBRID"
        return "SEMANTIC"

    async def retrieve(self, query: Query) -> list[Hit]:
        """The best `query.top_k` passages scoring at least `query.min_score`, best first."""
        results = await self.agent.retrieve(
            self.knowledge_base_id,
            query.text,
            number_of_results=min(query.top_k, MAX_RESULTS),
            search_type=self.search_type(query),
            filter=query.filter,
        )
        hits = [hit_from_result(result) for result in results]
        return [hit for hit in hits if hit is not None and hit.score >= query.min_score]


def _source(result: dict[str, Any]) -> str:
    location = result.get("location") or {}
    for member, field in _LOCATIONS:
        if value := (location.get(member) or {}).get(field):
            return str(value)
    metadata = result.get("metadata") or {}
    return str(metadata.get(SOURCE_URI) or result.get("documentId") or "")


def _name(source: str) -> str:
    parts = urlsplit(source)
    if parts.scheme and parts.netloc:
        last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
        return last or parts.netloc
    return source


def _text(content: dict[str, Any]) -> str:
    if text := content.get("text"):
        return str(text)
    # Structured (SQL) knowledge bases answer with rows of columns instead of text.
    row = content.get("row") or []
    return "\n".join(f"{cell.get('columnName')}: {cell.get('columnValue')}" for cell in row)


def _page(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def hit_from_result(result: dict[str, Any]) -> Hit | None:
    """One retrievalResults item as a Hit; None for results without text (images, audio, video)."""
    text = _text(result.get("content") or {})
    if not text:
        return None
    metadata = dict(result.get("metadata") or {})
    source = _source(result) or "bedrock"
    name = _name(source)
    document_id = hashlib.sha256(source.encode()).hexdigest()[:32]
    media_type = mimetypes.guess_type(name)[0] or "text/plain"
    document = DocumentRecord(
        id=document_id, source=source, name=name, content_hash="", media_type=media_type, metadata=metadata
    )
    # ChunkRecord ids are UUIDs elsewhere; Bedrock's own chunk id is kept when it gives one.
    chunk_id = metadata.get(CHUNK_ID) or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source}#{text}"))
    chunk = ChunkRecord(
        id=str(chunk_id), document_id=document_id, ordinal=0, text=text, page=_page(metadata.get(PAGE_NUMBER))
    )
    return Hit(chunk=chunk, document=document, score=float(result.get("score") or 0.0))
