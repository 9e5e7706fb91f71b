"""`quarry kb` as a user runs it: create, ingest (files, folders, globs; incremental; --sync), ls, search, ask, rm,
eval — in a real process over the offline emulator; and an ingest killed with Ctrl-C leaves no half document."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import offline_environment
from tests.kb._pdf import write_pdf


def _env(data: Path) -> dict[str, str]:
    return offline_environment(data) | {"QUARRY_BACKEND": "emulator"}


def quarry(
    data: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "quarry", "kb", *args],
        capture_output=True,
        text=True,
        env=env or _env(data),
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "leave.md").write_text(
        "# Leave\n\nEvery employee gets 25 days of paid annual leave.\n\n## Carry-over\n\nUnused days lapse in March.\n"
    )
    (folder / "deploy.txt").write_text("Production deploys run every weekday at noon.\n")
    write_pdf(
        folder / "guide.pdf",
        [["Welcome to the guide."], ["The coffee machine is on the third floor.", "Descale it every Friday."]],
        title="Office guide",
    )
    return folder


def test_create_ingest_list_search_ask_and_remove(tmp_path: Path, docs: Path) -> None:
    data = tmp_path / "data"
    created = quarry(data, "create", "office", "--chunk-tokens", "120", "--overlap", "15%")
    assert "chunks of 120 tokens with 15% overlap" in created.stdout
    first = json.loads(quarry(data, "ingest", "office", str(docs), "--json").stdout)
    assert sorted(first["added"]) == ["deploy.txt", "guide.pdf", "policies/leave.md"]  # named by their path in it
    assert first["chunks"] >= 3
    second = json.loads(quarry(data, "ingest", "office", str(docs), "--json").stdout)
    assert sorted(second["unchanged"]) == ["deploy.txt", "guide.pdf", "policies/leave.md"]
    (docs / "deploy.txt").write_text("Production deploys run every weekday at three in the afternoon.\n")
    third = json.loads(quarry(data, "ingest", "office", str(docs / "*.txt"), "--json").stdout)
    assert third["replaced"] == ["deploy.txt"]

    listing = json.loads(quarry(data, "ls", "office", "--json").stdout)
    guide = next(document for document in listing if document["name"] == "guide.pdf")
    assert (guide["pages"], guide["title"], guide["media_type"]) == (2, "Office guide", "application/pdf")
    assert "office" in quarry(data, "ls").stdout

    hits = json.loads(quarry(data, "search", "office", "where is the coffee machine", "--json").stdout)
    top = hits[0]
    assert "third floor" in top["content"]["text"]
    assert top["metadata"]["x-amz-bedrock-kb-document-page-number"] == 2.0
    assert top["location"]["customDocumentLocation"]["id"] == str(docs.resolve() / "guide.pdf")

    asked = json.loads(quarry(data, "ask", "office", "When do production deploys run?", "--json").stdout)
    assert "three in the afternoon" in asked["answer"]
    cited = [source for source in asked["sources"] if source["cited"]]
    assert cited[0]["document"] == "deploy.txt"
    shown = quarry(data, "ask", "office", "How many days of annual leave?").stdout
    assert "25 days" in shown
    assert "leave.md" in shown

    removed = quarry(data, "rm", "office", "policies/leave.md").stdout
    assert removed.startswith("Removed policies/leave.md, ")
    assert f"from {docs.resolve() / 'policies' / 'leave.md'}, added " in removed
    assert "leave.md" not in quarry(data, "ls", "office").stdout
    assert "Removed office" in quarry(data, "rm", "office", "--yes").stdout
    gone = quarry(data, "ls", "office", check=False)
    assert gone.returncode == 1
    assert "no knowledge base named 'office'" in gone.stderr


def test_sync_removes_documents_whose_files_are_gone(tmp_path: Path, docs: Path) -> None:
    data = tmp_path / "data"
    quarry(data, "create", "office")
    quarry(data, "ingest", "office", str(docs))
    (docs / "deploy.txt").unlink()
    kept = json.loads(quarry(data, "ingest", "office", str(docs), "--json").stdout)
    assert kept["removed"] == []
    synced = json.loads(quarry(data, "ingest", "office", str(docs), "--sync", "--json").stdout)
    assert synced["removed"] == ["deploy.txt"]
    assert "deploy.txt" not in quarry(data, "ls", "office").stdout


def test_bad_input_is_reported_not_crashed_on(tmp_path: Path, docs: Path) -> None:
    data = tmp_path / "data"
    missing = quarry(data, "ingest", "nope", str(docs), check=False)
    assert missing.returncode == 1
    assert "no knowledge base named 'nope'" in missing.stderr
    quarry(data, "create", "office")
    nothing = quarry(data, "ingest", "office", str(tmp_path / "absent" / "*.md"), check=False)
    assert nothing.returncode == 1
    assert "no such file or folder" in nothing.stderr
    (docs / "broken.pdf").write_bytes(b"this is not a PDF")
    partial = quarry(data, "ingest", "office", str(docs), check=False)
    assert partial.returncode == 1
    assert "failed broken.pdf" in partial.stderr
    assert "3 added" in partial.stdout
    bad = quarry(data, "create", "Office", check=False)
    assert bad.returncode == 1
    assert "lowercase letters" in bad.stderr


def test_ctrl_c_leaves_only_whole_documents_and_a_rerun_finishes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(40):
        sentences = " ".join(f"Document {n} sentence {i} talks about topic {n * 7 + i}." for i in range(60))
        (folder / f"doc{n:02}.txt").write_text(sentences)
    quarry(data, "create", "big", "--chunk-tokens", "60")
    # Slow enough that a loaded machine cannot finish all 40 before the interrupt lands (only this run is slowed).
    slow = _env(data) | {"QUARRY_EMULATOR__FIRST_BYTE_MS": "100", "QUARRY_KB__EMBED_CONCURRENCY": "2"}
    # SIGINT as a terminal's Ctrl-C delivers it: a shell that starts the test run in the background leaves SIGINT
    # ignored, and a child inherits that, so the command would finish its ingest instead of stopping.
    as_in_a_terminal = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'quarry'; runpy.run_module('quarry', run_name='__main__', alter_sys=True)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", as_in_a_terminal, "kb", "ingest", "big", str(folder)],
        env=slow, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    # Interrupt once some documents are done (the progress lines say so) and others are in flight.
    for line in process.stderr:
        if "files 3/" in line:
            break
    os.kill(process.pid, signal.SIGINT)
    rest = process.communicate(timeout=60)[1]
    assert process.returncode == 1
    assert "interrupted" in rest
    documents = json.loads(quarry(data, "ls", "big", "--json").stdout)
    assert 3 <= len(documents) < 40
    report = json.loads(quarry(data, "search", "big", "Document 1 sentence", "--top-k", "100", "--json").stdout)
    assert report  # the store answers searches after the interruption
    finished = json.loads(quarry(data, "ingest", "big", str(folder), "--json").stdout)
    assert len(finished["unchanged"]) == len(documents)
    assert len(finished["added"]) == 40 - len(documents)
    assert len(json.loads(quarry(data, "ls", "big", "--json").stdout)) == 40


def test_eval_reports_each_mode(tmp_path: Path) -> None:
    data = tmp_path / "data"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wal.md").write_text("# WAL\n\nWrite-ahead logging lets readers and a writer work at the same time.\n")
    (corpus / "vacuum.md").write_text("# VACUUM\n\nVACUUM rebuilds the database file to reclaim free pages.\n")
    questions = {
        "name": "tiny",
        "questions": [
            {"id": "q1", "question": "can readers and writers work at once", "relevant": {"wal.md": 2}},
            {"id": "q2", "question": "reclaim free pages in the file", "relevant": {"vacuum.md": 2}},
        ],
    }
    (tmp_path / "questions.json").write_text(json.dumps(questions))
    quarry(data, "create", "tiny")
    quarry(data, "ingest", "tiny", str(corpus))
    scores = json.loads(quarry(data, "eval", "tiny", str(tmp_path / "questions.json"), "--json").stdout)
    assert set(scores) == {"keyword", "vector", "hybrid"}
    assert scores["hybrid"]["mrr"] == pytest.approx(1.0)
    table = quarry(data, "eval", "tiny", str(tmp_path / "questions.json")).stdout
    assert "recall@5" in table
    assert "hybrid" in table


def test_the_backend_is_said_once_and_again_when_it_changes(tmp_path: Path, docs: Path) -> None:
    data = tmp_path / "data"
    quarry(data, "create", "once")
    first = quarry(data, "ingest", "once", str(docs))
    assert "backend: offline Bedrock emulator" in first.stderr
    for command in (["search", "once", "coffee"], ["ask", "once", "Where is the coffee machine?"]):
        assert "backend:" not in quarry(data, *command).stderr
    assert "backend:" not in quarry(data, "ls").stderr  # no model is called: nothing to say
    # Last said for another backend (Bedrock, say): this one is said again.
    (data / "data" / "kb-backend-shown").write_text("bedrock")
    assert "backend: offline Bedrock emulator" in quarry(data, "search", "once", "coffee").stderr
