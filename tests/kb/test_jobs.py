"""Ingest jobs as the console lists them: newest first, bounded, with how each ended."""

from __future__ import annotations

from quarry.kb import IngestJobs, IngestProgress, IngestReport


def test_jobs_say_how_they_ended() -> None:
    jobs = IngestJobs(keep=2)
    clean = jobs.start("docs", IngestProgress(files=1))
    assert clean.state == "running"
    jobs.finish(clean, IngestReport(added=["a.md"]))
    partial = jobs.start("docs", IngestProgress(files=2))
    jobs.finish(partial, IngestReport(added=["a.md"], failed={"b.bin": "not a document Quarry reads"}))
    broken = jobs.start("wiki", IngestProgress())
    jobs.finish(broken, error=RuntimeError("the embedding model is not available"))
    assert [(job.knowledge_base, job.state) for job in jobs.recent()] == [
        ("wiki", "failed"),
        ("docs", "done with errors"),
    ]
    assert broken.error == "the embedding model is not available"
    assert broken.finished_at is not None
