"""Hits in the shape of bedrock-agent-runtime's Retrieve results, which the HTTP API and the emulator both speak."""

from __future__ import annotations

from typing import Any

from quarry.kb._models import Hit

__all__ = ["retrieval_result"]


def retrieval_result(hit: Hit, knowledge_base: str) -> dict[str, Any]:
    """One `retrievalResults[]` item: the passage, where it came from, its score, and metadata naming the document
    under Bedrock's own keys (so code written against Bedrock Knowledge Bases reads it unchanged)."""
    document, chunk = hit.document, hit.chunk
    metadata: dict[str, Any] = {
        **document.metadata,
        "x-amz-bedrock-kb-source-uri": document.source,
        "x-amz-bedrock-kb-chunk-id": chunk.id,
        "x-amz-bedrock-kb-data-source-id": knowledge_base,
        "quarry-document-id": document.id,
        "quarry-document-name": document.name,
        "quarry-tags": list(document.tags),
    }
    if chunk.page is not None:
        metadata["x-amz-bedrock-kb-document-page-number"] = float(chunk.page)  # Bedrock sends page numbers as numbers
    if chunk.headings:
        metadata["quarry-headings"] = list(chunk.headings)
    return {
        "content": {"type": "TEXT", "text": hit.passage},
        "location": {"type": "CUSTOM", "customDocumentLocation": {"id": document.source}},
        "score": hit.score,
        "metadata": metadata,
    }
