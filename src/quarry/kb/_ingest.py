"""Ingest: files → documents → chunks → vectors, one document per transaction.

Incremental, by `_identity`'s rule: a file whose document holds the same content is skipped, a changed one replaces
its document in the same transaction, so a reader (or a crash, or Ctrl-C) never sees half a document; content the
knowledge base holds under another name is not stored twice. `sync` removes documents whose files are gone from
the folders given.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quarry.errors import InvalidRequest
from quarry.kb._chunking import chunk_document
from quarry.kb._embedding import Embedder
from quarry.kb._identity import AmbiguousDocument, match_document, name_under
from quarry.kb._loaders import SUPPORTED_SUFFIXES, load_document
from quarry.kb._models import ChunkRecord, DocumentRecord, KnowledgeBaseConfig
from quarry.kb._pdf_limits import PdfLimits
from quarry.kb._store import KnowledgeStore

__all__ = ["IngestProgress", "IngestReport", "Ingestor", "SourceFile", "find_files"]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """Something to ingest: a file on disk (`path`) or uploaded bytes (`data`)."""

    source: str  # where it came from: an absolute path, or the upload's name
    name: str  # what it is called, and with its content hash what it is (`_identity`)
    path: Path | None = None
    data: bytes | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_path(cls, path: Path, name: str | None = None, **fields: Any) -> SourceFile:
        """A file on disk, named `name` (by default its file name)."""
        path = path.resolve()
        return cls(source=str(path), name=name or path.name, path=path, **fields)

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


@dataclass(slots=True)
class IngestProgress:
    """Counters an ingest keeps current; `on_change` (if set) is called after each change."""

    files: int = 0
    files_done: int = 0
    chunks: int = 0
    embedded: int = 0
    current: str = ""
    on_change: Callable[[IngestProgress], None] | None = None

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


@dataclass(slots=True)
class IngestReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)  # name → the document already holding its content
    failed: dict[str, str] = field(default_factory=dict)  # name → why
    chunks: int = 0
    embedding_tokens: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"extract": 0.0, "embed": 0.0, "write": 0.0})

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _glob_root(pattern: Path) -> Path:
    """The folder a glob searches under: its parts before the first one with a wildcard."""
    fixed = []
    for part in pattern.parts:
        if any(char in part for char in "*?["):
            break
        fixed.append(part)
    return Path(*fixed).resolve() if fixed else Path.cwd()


def find_files(patterns: Iterable[str]) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Files named by paths, folders (searched recursively) and globs, with a supported suffix, each with its
    document name (its path under the folder given or the glob's fixed folder, else its file name); and the folders
    given (what `sync` looks under). A pattern that names nothing is an InvalidRequest."""
    files: dict[Path, str] = {}
    roots: list[Path] = []
    for pattern in patterns:
        path = Path(pattern).expanduser()
        folder: Path | None
        if path.is_dir():
            folder = path.resolve()
            roots.append(folder)
            found = [p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES]
        elif path.is_file():
            folder, found = None, [path]
        else:
            folder = _glob_root(path)
            found = [Path(p) for p in sorted(glob.glob(str(path), recursive=True)) if Path(p).is_file()]
            found = [p for p in found if p.suffix.lower() in SUPPORTED_SUFFIXES]
            if not found:
                raise InvalidRequest(f"{pattern}: no such file or folder, and no supported file matches it.")
        for file in found:
            resolved = file.resolve()
            files.setdefault(resolved, name_under(resolved, folder))
    return list(files.items()), roots


def _gone(documents: Iterable[DocumentRecord], roots: Sequence[Path]) -> list[DocumentRecord]:
    """The documents whose files were under one of `roots` and are no more."""
    return [
        document
        for document in documents
        if any(Path(document.source).is_relative_to(root) for root in roots) and not Path(document.source).exists()
    ]


def _digest(file: SourceFile) -> str | OSError:
    try:
        return hashlib.sha256(file.read()).hexdigest()
    except OSError as exc:  # unreadable: reported as failed, the others go on
        return exc


def _plan(
    files: Sequence[tuple[SourceFile, str | OSError]], existing: Sequence[DocumentRecord], report: IngestReport
) -> list[tuple[SourceFile, DocumentRecord | None]]:
    """What to ingest, each file with the document it replaces; what needs nothing (unchanged, the same content as
    another document, an unreadable file, a name twice or ambiguous) goes straight into the report."""
    matched: list[tuple[SourceFile, str, DocumentRecord | None]] = []
    named: dict[str, SourceFile] = {}
    for file, digest in files:
        if isinstance(digest, OSError):
            report.failed[file.name] = str(digest)
            continue
        first = named.setdefault(file.name, file)
        if first is not file:
            report.failed[file.source] = (
                f"{file.source}: {first.source} is named {file.name} too. Ingest the folder that holds both, so "
                "that each is named by its path in it."
                if file.path is not None
                else f"{file.name}: another file of this upload has the same name; send it under a name of its own."
            )
            continue
        try:
            matched.append((file, digest, match_document(existing, file.source, file.name)))
        except AmbiguousDocument as exc:
            report.failed[file.name] = f"{exc.message} Or remove all but one of them, then ingest {file.name} again."
    replaced = {old.id for _, digest, old in matched if old is not None and old.content_hash != digest}
    # content → the name it is kept under, once this ingest is done
    holders = {document.content_hash: document.name for document in existing if document.id not in replaced}
    work: list[tuple[SourceFile, DocumentRecord | None]] = []
    for file, digest, old in matched:
        if old is not None and old.content_hash == digest and old.tags == file.tags:
            report.unchanged.append(file.name)
            continue
        holder = holders.setdefault(digest, file.name)
        if old is None and holder != file.name:
            report.duplicates[file.name] = holder
            continue
        work.append((file, old))
    return work


class Ingestor:
    """Ingests into one local knowledge base. `parallel_files` documents are extracted and embedded at once."""

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        config: KnowledgeBaseConfig,
        *,
        parallel_files: int = 4,
        pdf_limits: PdfLimits | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._config = config
        self._gate = asyncio.Semaphore(parallel_files)
        self._pdf_limits = pdf_limits or PdfLimits()

    async def ingest(
        self,
        files: Sequence[SourceFile],
        *,
        sync_roots: Sequence[Path] = (),
        progress: IngestProgress | None = None,
    ) -> IngestReport:
        progress = progress or IngestProgress()
        report = IngestReport()
        existing = await self._store.documents()
        gone: list[DocumentRecord] = []
        if sync_roots:
            given = {file.source for file in files}
            gone = await asyncio.to_thread(_gone, [d for d in existing if d.source not in given], sync_roots)
        progress.files = len(files)
        progress.changed()
        digests = await asyncio.gather(*(asyncio.to_thread(_digest, file) for file in files))
        gone_ids = {document.id for document in gone}
        work = _plan(list(zip(files, digests, strict=True)), [d for d in existing if d.id not in gone_ids], report)
        progress.files_done = len(files) - len(work)
        progress.changed()
        await asyncio.gather(*(self._one(file, old, report, progress) for file, old in work))
        if gone:
            await self._store.remove_documents([document.id for document in gone])
            report.removed = [document.name for document in gone]
        report.embedding_tokens = self._embedder.tokens
        return report

    async def _one(
        self, file: SourceFile, old: DocumentRecord | None, report: IngestReport, progress: IngestProgress
    ) -> None:
        async with self._gate:
            progress.current = file.name
            try:
                await self._ingest(file, old, report, progress)
            except (InvalidRequest, OSError) as exc:
                report.failed[file.name] = getattr(exc, "message", None) or str(exc)
            progress.files_done += 1
            progress.changed()

    async def _ingest(
        self, file: SourceFile, old: DocumentRecord | None, report: IngestReport, progress: IngestProgress
    ) -> None:
        started = time.perf_counter()
        data = await asyncio.to_thread(file.read)
        digest = hashlib.sha256(data).hexdigest()
        config = self._config
        loaded = await asyncio.to_thread(load_document, data, file.name, pdf_limits=self._pdf_limits)
        drafts = await asyncio.to_thread(
            chunk_document,
            loaded,
            chunk_tokens=config.chunk_tokens,
            overlap=config.overlap,
            hierarchical=config.hierarchical,
            parent_tokens=config.parent_tokens,
        )
        if not drafts:
            raise InvalidRequest(f"{file.name}: no text to index.")
        report.seconds["extract"] += time.perf_counter() - started
        progress.chunks += len(drafts)
        progress.changed()

        def embedded(count: int) -> None:
            progress.embedded += count
            progress.changed()

        started = time.perf_counter()
        vectors = await self._embedder.embed_documents([draft.text for draft in drafts], embedded)
        report.seconds["embed"] += time.perf_counter() - started
        document = DocumentRecord(
            id=str(uuid.uuid4()),
            source=file.source,
            name=file.name,
            content_hash=digest,
            media_type=loaded.media_type,
            chunks=len(drafts),
            pages=loaded.pages,
            title=loaded.title,
            tags=file.tags,
            metadata=file.metadata,
            added_at=time.time(),
        )
        chunks = [
            ChunkRecord(
                id=str(uuid.uuid4()),
                document_id=document.id,
                ordinal=ordinal,
                text=draft.text,
                page=draft.page,
                start=draft.start,
                end=draft.end,
                headings=draft.headings,
                parent=draft.parent,
            )
            for ordinal, draft in enumerate(drafts)
        ]
        started = time.perf_counter()
        await self._store.put_document(document, chunks, vectors, replaces=old.id if old else None)
        report.seconds["write"] += time.perf_counter() - started
        report.chunks += len(chunks)
        (report.replaced if old else report.added).append(file.name)
