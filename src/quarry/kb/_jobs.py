"""Ingest jobs as an operator follows them: which knowledge base, when, how far (the ingest's own counters, live),
and how it ended (the report's failures, or the error that stopped it). A bounded list per set of knowledge bases,
newest first; never the documents' text."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from quarry.kb._ingest import IngestProgress, IngestReport

__all__ = ["IngestJob", "IngestJobs"]


@dataclass(slots=True)
class IngestJob:
    knowledge_base: str
    progress: IngestProgress
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    report: IngestReport | None = None
    error: str | None = None  # what stopped the whole job (a file's own failure is in the report)

    @property
    def state(self) -> str:
        if self.finished_at is None:
            return "running"
        if self.error is not None:
            return "failed"
        return "done with errors" if self.report is not None and self.report.failed else "done"


class IngestJobs:
    """The last `keep` ingest jobs of this process, running ones included."""

    def __init__(self, keep: int = 200) -> None:
        self._jobs: deque[IngestJob] = deque(maxlen=keep)

    def start(self, knowledge_base: str, progress: IngestProgress) -> IngestJob:
        job = IngestJob(knowledge_base, progress)
        self._jobs.appendleft(job)
        return job

    def finish(self, job: IngestJob, report: IngestReport | None = None, error: BaseException | None = None) -> None:
        job.finished_at = time.time()
        job.report = report
        if error is not None:
            job.error = str(error) or type(error).__name__

    def recent(self) -> list[IngestJob]:
        return list(self._jobs)
