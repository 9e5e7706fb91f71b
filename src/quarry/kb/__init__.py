"""Knowledge bases: loaders, chunking, embedding, stores, retrieval, answers with citations.

Needs the `kb` extra (numpy, pypdfium2); `import quarry` does not import this package.
"""

from quarry.kb._answers import Answer, citation_marks, cited_numbers, nothing_found, source_json, system_prompt
from quarry.kb._bedrock_retriever import BedrockRetriever
from quarry.kb._evaluation import evaluate, format_report, load_eval_set
from quarry.kb._identity import AmbiguousDocument, describe
from quarry.kb._ingest import IngestProgress, IngestReport, SourceFile, find_files
from quarry.kb._jobs import IngestJob, IngestJobs
from quarry.kb._models import DocumentRecord, Grant, Hit, KnowledgeBaseConfig, Ownership, Query, Registered
from quarry.kb._service import KnowledgeBase, KnowledgeBases, Retriever, open_knowledge_bases, open_store_backend
from quarry.kb._wire import retrieval_result

__all__ = [
    "AmbiguousDocument",
    "Answer",
    "BedrockRetriever",
    "DocumentRecord",
    "Grant",
    "Hit",
    "IngestJob",
    "IngestJobs",
    "IngestProgress",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeBaseConfig",
    "KnowledgeBases",
    "Ownership",
    "Query",
    "Registered",
    "Retriever",
    "SourceFile",
    "citation_marks",
    "cited_numbers",
    "describe",
    "evaluate",
    "find_files",
    "format_report",
    "load_eval_set",
    "nothing_found",
    "open_knowledge_bases",
    "open_store_backend",
    "retrieval_result",
    "source_json",
    "system_prompt",
]
