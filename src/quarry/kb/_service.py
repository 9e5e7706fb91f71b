"""Knowledge bases as the server and the CLI use them: create, list, open, ingest, search, answer, delete."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

from quarry.bedrock import BedrockAgentRuntime, BedrockRuntime, GuardrailStreamConfiguration
from quarry.errors import Conflict, InvalidRequest, KnowledgeBaseNotFound
from quarry.kb._answers import Answer, relevant_hits, stream_answer
from quarry.kb._bedrock_retriever import BedrockRetriever
from quarry.kb._chunking import check_chunking
from quarry.kb._embedding import Embedder, check_embedding_model
from quarry.kb._identity import find_document
from quarry.kb._ingest import Ingestor, IngestProgress, IngestReport, SourceFile
from quarry.kb._jobs import IngestJobs
from quarry.kb._models import DocumentRecord, Grant, Hit, KnowledgeBaseConfig, Ownership, Query, Registered, valid_name
from quarry.kb._pdf_limits import PdfLimits
from quarry.kb._retrieval import LocalRetriever
from quarry.kb._store import KnowledgeStore, StoreBackend
from quarry.settings import KnowledgeSettings, Settings

__all__ = ["KnowledgeBase", "KnowledgeBases", "Retriever", "open_knowledge_bases", "open_store_backend"]


class Retriever(Protocol):
    async def retrieve(self, query: Query) -> list[Hit]: ...


ManagedRetrievers = Callable[[KnowledgeBaseConfig], Retriever]


def open_store_backend(settings: Settings) -> StoreBackend:
    """PostgreSQL when `kb.database_url` (or else `database_url`) names one; SQLite files under the data dir."""
    url = settings.kb.database_url or settings.database_url
    if url and url.startswith(("postgresql://", "postgres://")):
        from quarry.kb._postgres_store import PostgresBackend

        return PostgresBackend(url)
    from quarry.kb._sqlite_store import SQLiteBackend

    return SQLiteBackend(Path(settings.data_dir) / "kb")


def _check_name(name: str) -> None:
    if not valid_name(name):
        raise InvalidRequest(
            f"{name!r} is not a knowledge-base name: use 1-63 lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit.",
            param="name",
        )


class KnowledgeBase:
    """One knowledge base, local or managed."""

    def __init__(
        self,
        config: KnowledgeBaseConfig,
        retriever: Retriever,
        *,
        store: KnowledgeStore | None = None,
        embedder: Embedder | None = None,
        settings: KnowledgeSettings,
        ownership: Ownership | None = None,
        jobs: IngestJobs | None = None,
    ) -> None:
        self.config = config
        self.jobs = jobs or IngestJobs()  # the set's own, so the operator's console sees every ingest
        self.ownership = ownership or Ownership()
        self.retriever = retriever
        self.store = store
        self._embedder = embedder
        self._settings = settings

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def owner(self) -> str | None:
        return self.ownership.owner

    @property
    def shared_with(self) -> tuple[Grant, ...]:
        return self.ownership.shared_with

    def _local(self) -> tuple[KnowledgeStore, Embedder]:
        if self.store is None or self._embedder is None:
            raise InvalidRequest(
                f"{self.name} is a Bedrock knowledge base: its documents are managed in Bedrock, not here.",
                param="name",
            )
        return self.store, self._embedder

    async def retrieve(self, query: Query) -> list[Hit]:
        return await self.retriever.retrieve(query)

    async def documents(self) -> list[DocumentRecord]:
        if self.store is None:
            return []
        return await self.store.documents()

    async def document(self, key: str) -> DocumentRecord:
        """A document by id, source or name (`_identity.find_document`); NotFound, or AmbiguousDocument listing the
        documents of that name."""
        return find_document(await self.documents(), key, knowledge_base=self.name)

    async def remove(self, key: str, *, path: str | None = None) -> DocumentRecord:
        """Remove the document `key` names (or, first, the one ingested from the file `path`); what was removed."""
        store, _ = self._local()
        documents = await self.documents()
        found = next((document for document in documents if path is not None and document.source == path), None)
        document = found or find_document(documents, key, knowledge_base=self.name)
        await store.remove_documents([document.id])
        return document

    async def ingest(
        self, files: list[SourceFile], *, sync_roots: list[Path] | None = None, progress: IngestProgress | None = None
    ) -> IngestReport:
        store, embedder = self._local()
        ingestor = Ingestor(store, embedder, self.config, pdf_limits=PdfLimits.from_settings(self._settings))
        progress = progress or IngestProgress()
        job = self.jobs.start(self.name, progress)
        try:
            report = await ingestor.ingest(files, sync_roots=sync_roots or [], progress=progress)
        except BaseException as exc:  # cancelled too: the job ends as failed, and the error goes on up
            self.jobs.finish(job, error=exc)
            raise
        self.jobs.finish(job, report)
        return report

    async def counts(self) -> tuple[int, int]:
        return await self.store.counts() if self.store is not None else (0, 0)

    async def passages(self, question: str, query: Query | None = None) -> list[Hit]:
        """What an answer to `question` is written from: the retrieved hits that are relevant enough."""
        if not question.strip():
            raise InvalidRequest("The question is empty.", param="question")
        hits = await self.retrieve(query or Query(text=question, top_k=self._settings.top_k))
        return relevant_hits(hits, self._settings.min_similarity)

    def answer_stream(
        self,
        runtime: BedrockRuntime,
        model_id: str,
        question: str,
        hits: list[Hit],
        guardrail: GuardrailStreamConfiguration | None = None,
    ) -> AsyncIterator[str | Answer]:
        """The answer from `hits` as it is written: text pieces, then the Answer (judged by `guardrail`)."""
        limit = self._settings.max_answer_tokens
        return stream_answer(runtime, model_id, self.name, question, hits, max_tokens=limit, guardrail=guardrail)

    async def answer(self, runtime: BedrockRuntime, model_id: str, question: str, query: Query | None = None) -> Answer:
        hits = await self.passages(question, query)
        async for item in self.answer_stream(runtime, model_id, question, hits):
            if isinstance(item, Answer):
                return item
        raise AssertionError("stream_answer ends with the Answer")


class KnowledgeBases:
    """Every knowledge base on one store backend; `managed` builds retrievers for Bedrock knowledge bases.
    Without a `runtime` (the CLI listing or removing), anything that embeds fails with UpstreamUnavailable."""

    def __init__(
        self,
        backend: StoreBackend,
        runtime: BedrockRuntime | None,
        settings: KnowledgeSettings,
        *,
        managed: ManagedRetrievers | None = None,
        owns_runtime: bool = False,
    ) -> None:
        self.backend = backend
        self.runtime = runtime
        self.settings = settings
        self._managed = managed
        self._owns_runtime = owns_runtime  # close() closes the runtime too
        self.jobs = IngestJobs()  # every ingest of these knowledge bases, for the operator's console

    async def create(
        self,
        name: str,
        *,
        embedding_model: str | None = None,
        dimensions: int | None = None,
        chunk_tokens: int | None = None,
        overlap: float | None = None,
        hierarchical: bool = False,
        parent_tokens: int | None = None,
        description: str = "",
        owner: str | None = None,
    ) -> KnowledgeBaseConfig:
        """A new local knowledge base, belonging to `owner` (None: the admin)."""
        _check_name(name)
        defaults = self.settings
        config = KnowledgeBaseConfig(
            name=name,
            embedding_model=embedding_model or defaults.embedding_model,
            dimensions=dimensions or defaults.dimensions,
            chunk_tokens=chunk_tokens or defaults.chunk_tokens,
            overlap=defaults.overlap if overlap is None else overlap,
            hierarchical=hierarchical,
            parent_tokens=parent_tokens or max(1500, 5 * (chunk_tokens or defaults.chunk_tokens)),
            description=description,
            created_at=time.time(),
        )
        check_embedding_model(config.embedding_model, config.dimensions)
        check_chunking(config.chunk_tokens, config.overlap, config.hierarchical, config.parent_tokens)
        await self._create(config, owner)
        return config

    async def add_bedrock(
        self,
        name: str,
        knowledge_base_id: str,
        *,
        search_type: str | None = None,
        description: str = "",
        owner: str | None = None,
    ) -> KnowledgeBaseConfig:
        """Register a managed Bedrock knowledge base, searched through bedrock-agent-runtime Retrieve."""
        _check_name(name)
        if not knowledge_base_id.strip():
            raise InvalidRequest("knowledge_base_id is empty.", param="knowledge_base_id")
        if search_type not in (None, "HYBRID", "SEMANTIC"):
            raise InvalidRequest("search_type must be HYBRID or SEMANTIC.", param="search_type")
        config = KnowledgeBaseConfig(
            name=name,
            kind="bedrock",
            knowledge_base_id=knowledge_base_id.strip(),
            search_type=search_type,  # type: ignore[arg-type]  # checked just above
            description=description,
            created_at=time.time(),
        )
        await self._create(config, owner)
        return config

    async def _create(self, config: KnowledgeBaseConfig, owner: str | None) -> None:
        if await self.backend.config(config.name) is not None:
            raise Conflict(f"A knowledge base named {config.name} exists already.", param="name")
        await self.backend.create(config, Ownership(owner=owner))

    async def list(self) -> list[Registered]:
        """Every knowledge base with its ownership, by name; who may see which is `quarry.auth`'s to say."""
        entries = [await self.backend.registered(name) for name in await self.backend.names()]
        return [entry for entry in entries if entry is not None]

    async def entry(self, name: str) -> Registered:
        """A knowledge base's config and ownership, without opening it; KnowledgeBaseNotFound."""
        entry = await self.backend.registered(name) if valid_name(name) else None
        if entry is None:
            raise KnowledgeBaseNotFound(name)
        return entry

    async def get(self, name: str) -> KnowledgeBase:
        return await self.open(await self.entry(name))

    async def open(self, entry: Registered) -> KnowledgeBase:
        """The knowledge base `entry` registers, ready to search (and, when local, to change)."""
        config, ownership = entry.config, entry.ownership
        if config.kind == "bedrock":
            if self._managed is None:
                raise InvalidRequest(
                    f"{config.name} is a Bedrock knowledge base, and no Bedrock agent runtime is set up."
                )
            return KnowledgeBase(
                config, self._managed(config), settings=self.settings, ownership=ownership, jobs=self.jobs
            )
        store = await self.backend.open(config.name)
        embedder = Embedder(self.runtime, config, concurrency=self.settings.embed_concurrency)
        retriever = LocalRetriever(
            store, embedder, rrf_k=self.settings.rrf_k, keyword_weight=self.settings.keyword_weight
        )
        return KnowledgeBase(
            config,
            retriever,
            store=store,
            embedder=embedder,
            settings=self.settings,
            ownership=ownership,
            jobs=self.jobs,
        )

    async def set_ownership(self, name: str, ownership: Ownership) -> Ownership:
        """Replace a knowledge base's owner and sharing (the caller has checked that it may)."""
        if not (valid_name(name) and await self.backend.set_ownership(name, ownership)):
            raise KnowledgeBaseNotFound(name)
        return ownership

    async def delete(self, name: str) -> None:
        if not (valid_name(name) and await self.backend.drop(name)):
            raise KnowledgeBaseNotFound(name)

    async def close(self) -> None:
        await self.backend.close()
        if self._owns_runtime and self.runtime is not None:
            await self.runtime.aclose()


def open_knowledge_bases(
    settings: Settings,
    runtime: BedrockRuntime | None = None,
    *,
    agent: BedrockAgentRuntime | None = None,
    owns_runtime: bool = False,
) -> KnowledgeBases:
    """The knowledge bases on the store `settings` names: the one place they are assembled, for the server, the
    emulator's Retrieve and the CLI. `runtime` embeds and answers (None: listing and removing only); `agent`
    searches managed (Bedrock) knowledge bases (None: they cannot be searched); `owns_runtime`: close() closes it."""
    managed = None if agent is None else (lambda config: BedrockRetriever(agent, config))
    return KnowledgeBases(
        open_store_backend(settings), runtime, settings.kb, managed=managed, owns_runtime=owns_runtime
    )
