"""One identity for a document across the CLI, the HTTP API and the toolbox: named by its file name, identified by
that name and its content. The same file through `quarry kb ingest` and an upload is one document; content stored
under another name is not stored twice; a knowledge base written before the rule (the same file stored under its
absolute path and its bare name) is searched without the passage twice, and removing by that name says it is
ambiguous and lists both."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from quarry.kb import AmbiguousDocument, KnowledgeBases, Query
from quarry.kb._models import ChunkRecord, DocumentRecord, KnowledgeBaseConfig
from quarry.kb._sqlite_store import SQLiteBackend
from quarry.kb._store import StoreBackend
from quarry.server import create_app
from quarry.settings import KnowledgeSettings, Settings
from tests.kb.test_cli import quarry

KEY = "sk-kb-identity"
POLICY = b"# Security\n\nLaptops lock after five minutes idle. Report a lost badge to the front desk the same day.\n"
REVISED = b"# Security\n\nLaptops lock after two minutes idle. Report a lost badge to the front desk at once.\n"


async def _put_legacy_pair(backend: StoreBackend, name: str, dimensions: int) -> list[DocumentRecord]:
    """What two Quarry versions ago made of one file ingested by the CLI and uploaded too: two documents of one
    name and one content, one under the file's absolute path, one under its bare name."""
    store = await backend.open(name)
    made = []
    for doc_id, source in (("cli-doc", "/home/ada/policies/security.md"), ("upload-doc", "security.md")):
        document = DocumentRecord(
            id=doc_id, source=source, name="security.md", content_hash="sha-same", media_type="text/markdown",
            chunks=1, added_at=1000.0,
        )  # fmt: skip
        chunk = ChunkRecord(str(uuid.uuid4()), doc_id, 0, POLICY.decode())
        vector = np.ones((1, dimensions), dtype=np.float32)
        await store.put_document(document, [chunk], vector, replaces=None)
        made.append(document)
    return made


async def test_a_store_written_before_the_rule_is_searched_once_and_rm_lists_the_candidates(
    backend: StoreBackend,
) -> None:
    await backend.create(KnowledgeBaseConfig(name="legacy", dimensions=8, created_at=1.0))
    cli_doc, upload_doc = await _put_legacy_pair(backend, "legacy", 8)
    knowledge = KnowledgeBases(backend, None, KnowledgeSettings())
    base = await knowledge.get("legacy")

    hits = await base.retrieve(Query(text="lost badge", mode="keyword", top_k=5))
    assert [hit.chunk.text for hit in hits] == [POLICY.decode()]  # once, though two documents hold it

    with pytest.raises(AmbiguousDocument) as ambiguous:
        await base.remove("security.md")
    assert {document.id for document in ambiguous.value.candidates} == {"cli-doc", "upload-doc"}
    assert "/home/ada/policies/security.md" in ambiguous.value.message
    assert "uploaded" in ambiguous.value.message
    assert len(await base.documents()) == 2  # nothing removed

    removed = await base.remove(cli_doc.source)
    assert removed.id == cli_doc.id
    assert [document.id for document in await base.documents()] == [upload_doc.id]
    assert (await base.remove("security.md")).id == upload_doc.id  # the name is no longer ambiguous


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kb-identity")


@pytest.fixture(scope="module")
def client(serve: Any, data: Path) -> Iterator[httpx.Client]:
    # where `quarry kb` run by tests.kb.test_cli.quarry(data, …) keeps its data: the CLI and the server share it
    settings = Settings(backend="emulator", api_key=KEY, data_dir=data / "data")  # type: ignore[arg-type]
    url = serve(create_app(settings), lifespan="on").url
    with httpx.Client(base_url=f"{url}/v1", headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
        yield client


def _upload(client: httpx.Client, kb: str, name: str, content: bytes) -> dict[str, Any]:
    answer = client.post(f"/knowledge-bases/{kb}/documents", files=[("file", (name, content))])
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def test_the_same_file_by_cli_and_upload_is_one_document(client: httpx.Client, data: Path, tmp_path: Path) -> None:
    assert client.post("/knowledge-bases", json={"name": "policies"}).status_code == 201
    assert _upload(client, "policies", "security.md", POLICY)["added"] == ["security.md"]
    file = tmp_path / "security.md"
    file.write_bytes(POLICY)

    again = json.loads(quarry(data, "ingest", "policies", str(file), "--json").stdout)
    assert (again["added"], again["unchanged"]) == ([], ["security.md"])
    file.write_bytes(REVISED)
    revised = json.loads(quarry(data, "ingest", "policies", str(file), "--json").stdout)
    assert revised["replaced"] == ["security.md"]
    documents = client.get("/knowledge-bases/policies/documents").json()["data"]
    assert [(d["name"], d["source"]) for d in documents] == [("security.md", str(file.resolve()))]

    assert _upload(client, "policies", "security.md", REVISED)["unchanged"] == ["security.md"]
    copy = _upload(client, "policies", "copy-of-security.md", REVISED)
    assert (copy["added"], copy["duplicates"]) == ([], {"copy-of-security.md": "security.md"})
    assert len(client.get("/knowledge-bases/policies/documents").json()["data"]) == 1

    removed = client.delete("/knowledge-bases/policies/documents/security.md").json()
    assert (removed["deleted"], removed["source"]) == (True, str(file.resolve()))


def test_removing_an_ambiguous_name_over_http_lists_the_candidates(client: httpx.Client, data: Path) -> None:
    assert client.post("/knowledge-bases", json={"name": "legacy", "dimensions": 256}).status_code == 201

    async def legacy() -> None:
        backend = SQLiteBackend(data / "data" / "kb")  # beside the server, as the CLI of an older Quarry wrote it
        try:
            await _put_legacy_pair(backend, "legacy", 256)
        finally:
            await backend.close()

    asyncio.run(legacy())
    search = {"retrievalQuery": {"text": "lost badge"}, "searchMode": "keyword"}
    results = client.post("/knowledge-bases/legacy/retrieve", json=search).json()["retrievalResults"]
    assert len(results) == 1

    ambiguous = client.delete("/knowledge-bases/legacy/documents/security.md")
    assert ambiguous.status_code == 409
    error = ambiguous.json()["error"]
    assert (error["code"], error["param"]) == ("ambiguous_document", "document")
    assert {(c["id"], c["source"]) for c in error["candidates"]} == {
        ("cli-doc", "/home/ada/policies/security.md"),
        ("upload-doc", "security.md"),
    }
    cli = quarry(data, "rm", "legacy", "security.md", check=False)
    assert cli.returncode == 1
    assert "2 documents are named security.md" in cli.stderr
    assert "cli-doc (security.md, 1 chunks, from /home/ada/policies/security.md" in cli.stderr

    removed = client.delete("/knowledge-bases/legacy/documents/cli-doc")
    assert removed.status_code == 200
    body = removed.json()
    assert (body["deleted"], body["id"], body["name"], body["source"]) == (
        True, "cli-doc", "security.md", "/home/ada/policies/security.md",
    )  # fmt: skip
    assert client.delete("/knowledge-bases/legacy/documents/security.md").json()["id"] == "upload-doc"
