"""Knowledge bases: loaders, chunking, embedding, stores, retrieval, answers with citations.

Needs the `kb` extra (numpy, pypdfium2); `import quarry` does not import this package.
"""

from quarry.kb._answers import Answer, cited_numbers, nothing_found, source_json
from quarry.kb._ingest import IngestProgress, IngestReport, SourceFile, find_files
from quarry.kb._models import DocumentRecord, Hit, KnowledgeBaseConfig, Query
from quarry.kb._service import KnowledgeBase, KnowledgeBases, Retriever, open_store_backend
from quarry.kb._wire import retrieval_result

__all__ = [
    "Answer",
    "DocumentRecord",
    "Hit",
    "IngestProgress",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeBaseConfig",
    "KnowledgeBases",
    "Query",
    "Retriever",
    "SourceFile",
    "cited_numbers",
    "find_files",
    "nothing_found",
    "open_store_backend",
    "retrieval_result",
    "source_json",
]
