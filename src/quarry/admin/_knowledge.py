"""Knowledge bases: each one's documents and chunks, and the ingest jobs of this server (running ones with their
progress, finished ones with their failures), through quarry.kb's service."""

from __future__ import annotations

from starlette.responses import Response

from quarry.admin._guard import Visit, console_page
from quarry.admin._html import Html, html, join, page, table
from quarry.admin._keys import when
from quarry.errors import QuarryError

__all__ = ["knowledge_page"]


@console_page
async def knowledge_page(visit: Visit) -> Response:
    knowledge = visit.console.knowledge
    if knowledge is None:
        body = Html(
            '<h1>Knowledge bases</h1><div class="note">Knowledge bases need the kb extra: '
            "<code>pip install 'quarry[kb]'</code>.</div>"
        )
        return page("Knowledge bases", body, active="knowledge", csrf=visit.session.csrf)
    bases: list[tuple[object, ...]] = []
    for entry in await knowledge.list():
        try:
            base = await knowledge.open(entry)
            documents, chunks = await base.counts()
            recent = sorted(await base.documents(), key=lambda document: -document.added_at)[:5]
        except QuarryError as error:  # one knowledge base that cannot be opened does not hide the others
            bases.append((entry.name, entry.config.kind, "—", "—", html('<span class="bad">{}</span>', error.message)))
            continue
        names = ", ".join(document.name for document in recent)
        bases.append((entry.name, entry.config.kind, documents, chunks, names))
    jobs = [
        (
            job.knowledge_base,
            when(job.started_at),
            job.state,
            f"{job.progress.files_done}/{job.progress.files} files",
            job.progress.chunks,
            job.progress.embedded,
            job.progress.current if job.finished_at is None else "",
            job.error or "; ".join(f"{name}: {why}" for name, why in (job.report.failed if job.report else {}).items()),
        )
        for job in knowledge.jobs.recent()
    ]
    body = html(
        '<h1>Knowledge bases</h1><div id="knowledge-bases">{}</div><h2>Ingest jobs</h2><div id="ingest-jobs">{}</div>',
        table(("Name", "Kind", "Documents", "Chunks", "Latest documents"), bases, empty="No knowledge bases yet."),
        table(
            ("Knowledge base", "Started", "State", "Progress", "Chunks", "Embedded", "Now reading", "Errors"),
            jobs,
            empty="No ingest since this server started.",
        ),
    )
    return page("Knowledge bases", join([body]), active="knowledge", csrf=visit.session.csrf)
