"""What makes two documents the same one, for every surface (the CLI, the HTTP API, the toolbox).

A document is named by its file name — a file found under a folder given to `quarry kb ingest` by its path in that
folder (`guides/setup.md`), so two README.md of one tree stay two documents — and identified by that name plus its
content hash: the same content under the same name is the same document (ingesting it again does nothing), new
content under the same name replaces it, and content the knowledge base holds under another name is not stored a
second time (the report names the document that has it).

Knowledge bases written before this rule keep working as they are, read with it: the CLI stored a file under its
absolute path as `source` and its bare file name as `name`, an upload under its name as both. So a document is found
by its exact source first when a file is ingested (the same file again), then by its name; when a name belongs to
several documents (a file once ingested by the CLI and uploaded as well), removing by it, or ingesting a new file
under it, says it is ambiguous and lists them, and asks for an id or a source instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from quarry.errors import Conflict, NotFound
from quarry.kb._models import DocumentRecord

__all__ = ["AmbiguousDocument", "describe", "find_document", "match_document", "name_under"]


class AmbiguousDocument(Conflict):
    """A name that belongs to several documents, where one was meant: nothing was changed."""

    def __init__(self, name: str, candidates: Sequence[DocumentRecord]) -> None:
        listed = "; ".join(f"{document.id} ({describe(document)})" for document in candidates)
        super().__init__(
            f"{len(candidates)} documents are named {name}: {listed}. Name one by its id or its source.",
            param="document",
            code="ambiguous_document",
        )
        self.name = name
        self.candidates = tuple(candidates)


def describe(document: DocumentRecord) -> str:
    """`security.pdf, 12 chunks, from /home/ada/security.pdf, added 2026-12-01 09:30` — one line to tell documents
    of the same name apart."""
    origin = f"from {document.source}" if document.source != document.name else "uploaded"
    added = datetime.fromtimestamp(document.added_at, UTC).strftime("%Y-%m-%d %H:%M") if document.added_at else "-"
    return f"{document.name}, {document.chunks} chunks, {origin}, added {added} UTC"


def name_under(path: Path, folder: Path | None) -> str:
    """A file's document name: its path under `folder` with `/` between parts, or its bare file name."""
    if folder is not None and path.is_relative_to(folder):
        return path.relative_to(folder).as_posix()
    return path.name


def match_document(documents: Sequence[DocumentRecord], source: str, name: str) -> DocumentRecord | None:
    """The stored document a file (`source`, `name`) is a version of: the one with its exact source, else the one
    of its name; None when there is none; AmbiguousDocument when the name belongs to several."""
    for document in documents:
        if document.source == source:
            return document
    named = [document for document in documents if document.name == name]
    if len(named) > 1:
        raise AmbiguousDocument(name, named)
    return named[0] if named else None


def find_document(documents: Sequence[DocumentRecord], key: str, *, knowledge_base: str) -> DocumentRecord:
    """The document `key` names: by id, else the one document whose source or name it is; NotFound, or
    AmbiguousDocument when it is several (an upload's source is its name, so `security.pdf` names both an upload
    and a file the CLI ingested from /home/ada/security.pdf)."""
    for document in documents:
        if key == document.id:
            return document
    found = [document for document in documents if key in (document.source, document.name)]
    if len(found) > 1:
        raise AmbiguousDocument(key, found)
    if not found:
        raise NotFound(f"{knowledge_base} has no document {key!r}.", param="document")
    return found[0]
