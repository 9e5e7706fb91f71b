"""How an ingest decides, before anything is embedded, what each file is to the knowledge base (the identity rule of
quarry.kb._identity), and how `quarry kb ingest` names the files it finds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from quarry.kb._ingest import IngestReport, SourceFile, _plan, find_files
from quarry.kb._models import DocumentRecord


def stored(doc_id: str, name: str, content: bytes, source: str | None = None, **fields: object) -> DocumentRecord:
    digest = hashlib.sha256(content).hexdigest()
    values: dict[str, object] = {"media_type": "text/markdown", "chunks": 1} | fields
    return DocumentRecord(id=doc_id, source=source or name, name=name, content_hash=digest, **values)  # type: ignore[arg-type]


def upload(name: str, content: bytes) -> tuple[SourceFile, str]:
    return SourceFile(source=name, name=name, data=content), hashlib.sha256(content).hexdigest()


def plan(files: list[tuple[SourceFile, str]], existing: list[DocumentRecord]) -> tuple[list[str], IngestReport]:
    report = IngestReport()
    work = _plan(files, existing, report)
    return [f"{file.name}<{old.id if old else '-'}" for file, old in work], report


def test_one_name_one_content_one_document() -> None:
    existing = [stored("d1", "security.pdf", b"v1", source="/home/ada/security.pdf"), stored("d2", "leave.md", b"L")]
    work, report = plan(
        [upload("security.pdf", b"v1"), upload("leave.md", b"L2"), upload("copy.md", b"v1"), upload("new.md", b"N")],
        existing,
    )
    # the CLI's document is the upload's too; new content replaces; content stored already is not stored twice
    assert work == ["leave.md<d2", "new.md<-"]
    assert report.unchanged == ["security.pdf"]
    assert report.duplicates == {"copy.md": "security.pdf"}


def test_content_a_replacement_takes_away_can_come_in_under_another_name() -> None:
    existing = [stored("d1", "a.md", b"old")]
    work, report = plan([upload("a.md", b"new"), upload("b.md", b"old")], existing)
    assert work == ["a.md<d1", "b.md<-"]
    assert report.duplicates == {}


def test_the_same_content_twice_in_one_ingest_is_stored_once() -> None:
    work, report = plan([upload("a.md", b"same"), upload("b.md", b"same")], [])
    assert work == ["a.md<-"]
    assert report.duplicates == {"b.md": "a.md"}


def test_a_name_twice_in_one_ingest_and_an_ambiguous_name_fail_without_touching_anything() -> None:
    one = SourceFile.from_path(Path("/srv/a/README.md"), data=b"a")
    other = SourceFile.from_path(Path("/srv/b/README.md"), data=b"b")
    notes = SourceFile.from_path(Path("/new/notes.md"), data=b"changed")  # neither document's source
    legacy = [stored("d1", "notes.md", b"n", source="/old/notes.md"), stored("d2", "notes.md", b"n")]
    work, report = plan(
        [(one, "sha-a"), (other, "sha-b"), (notes, "sha-c"), (upload("gone.md", b"")[0], OSError("x"))], legacy
    )
    assert work == ["README.md<-"]
    assert "/srv/a/README.md is named README.md too" in report.failed["/srv/b/README.md"]
    assert "2 documents are named notes.md" in report.failed["notes.md"]
    assert "/old/notes.md" in report.failed["notes.md"]
    assert report.failed["gone.md"] == "x"


def test_two_uploads_of_one_name_in_one_request_store_the_first() -> None:
    work, report = plan([upload("a.md", b"one"), upload("a.md", b"two")], [])
    assert work == ["a.md<-"]
    assert report.failed == {
        "a.md": "a.md: another file of this upload has the same name; send it under a name of its own."
    }


def test_a_file_is_the_document_ingested_from_it_whatever_name_it_had() -> None:
    """A knowledge base from before the rule: the CLI named a file in a folder by its bare name."""
    existing = [stored("d1", "setup.md", b"s", source="/srv/docs/guides/setup.md")]
    file = SourceFile.from_path(Path("/srv/docs/guides/setup.md"), "guides/setup.md", data=b"s")
    work, report = plan([(file, hashlib.sha256(b"s").hexdigest())], existing)
    assert (work, report.unchanged) == ([], ["guides/setup.md"])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for path in ("docs/README.md", "docs/guides/README.md", "docs/guides/setup.md", "notes/todo.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(path)
    return tmp_path


def test_files_are_named_by_their_path_under_the_folder_given(tree: Path) -> None:
    files, roots = find_files(
        [str(tree / "docs"), str(tree / "notes" / "todo.md"), str(tree / "docs" / "**" / "s*.md")]
    )
    assert sorted(name for _, name in files) == ["README.md", "guides/README.md", "guides/setup.md", "todo.md"]
    assert roots == [(tree / "docs").resolve()]
    globbed, _ = find_files([str(tree / "docs" / "guides" / "*.md")])
    assert sorted(name for _, name in globbed) == ["README.md", "setup.md"]
