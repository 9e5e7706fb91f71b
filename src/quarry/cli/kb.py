"""`quarry kb`: knowledge bases from the command line, on the same store and Bedrock backend as `quarry serve`
(`QUARRY_DATA_DIR`, `QUARRY_KB__DATABASE_URL` / `QUARRY_DATABASE_URL`, `--backend` / `QUARRY_BACKEND`)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson
from pydantic import ValidationError

from quarry.errors import QuarryError
from quarry.settings import Settings

if TYPE_CHECKING:
    from quarry.bedrock import ModelCatalog
    from quarry.kb import IngestProgress, KnowledgeBases

__all__ = ["kb"]

T = TypeVar("T")


class _Session:
    def __init__(self, settings: Settings, knowledge: KnowledgeBases, catalog: ModelCatalog | None) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.catalog = catalog

    @property
    def runtime(self) -> Any:
        return self.knowledge.runtime


def _announce(settings: Settings, kind: str, description: str) -> None:
    """Say which backend embeds and answers the first time the CLI uses it with this data dir, and again when it
    changes (Bedrock after the emulator, or back: vectors from one are worthless to the other), not on every
    command. The last one said is kept in the data dir."""
    marker = settings.data_dir / "kb-backend-shown"
    try:
        if marker.read_text() == kind:
            return
    except OSError:
        pass  # never shown, or the note is unreadable: say it
    click.echo(f"backend: {description}  (said once; `quarry doctor` shows it any time)", err=True)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(kind)
    except OSError:
        pass  # a read-only data dir only means it is said again next time


@asynccontextmanager
async def _session(settings: Settings, *, bedrock: bool) -> AsyncIterator[_Session]:
    try:
        from quarry.kb import open_knowledge_bases
    except ImportError as exc:
        raise click.ClickException(
            f"knowledge bases need the kb extra ({exc.name} is missing): pip install 'quarry[kb]'"
        ) from None
    from quarry.bedrock import ModelCatalog
    from quarry.server import open_backend

    async with AsyncExitStack() as stack:
        runtime, catalog, agent = None, None, None
        if bedrock:
            backend = await open_backend(settings, stack)
            runtime = backend.runtime
            catalog = ModelCatalog(backend.control, settings.models, region=backend.region, ttl_s=0)
            agent = backend.agent
            _announce(settings, backend.kind, backend.description)
        knowledge = open_knowledge_bases(settings, runtime, agent=agent)
        stack.push_async_callback(knowledge.close)
        yield _Session(settings, knowledge, catalog)


def _run(ctx: click.Context, work: Callable[[_Session], Awaitable[T]], *, bedrock: bool = False) -> T:
    settings: Settings = ctx.obj

    async def main() -> T:
        async with _session(settings, bedrock=bedrock) as session:
            return await work(session)

    try:
        return asyncio.run(main())
    except QuarryError as exc:
        raise click.ClickException(exc.message) from None


def _echo_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def _percent(value: str) -> float:
    """`20%`, `20` or `0.2` → 0.2."""
    try:
        number = float(value.rstrip("%"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a share like 20% or 0.2") from None
    return number / 100 if value.endswith("%") or number > 1 else number


@click.group()
@click.option(
    "--backend",
    type=click.Choice(["auto", "bedrock", "emulator"]),
    default=None,
    help="Where embeddings and answers come from, as for `quarry serve`.",
)
@click.pass_context
def kb(ctx: click.Context, backend: str | None) -> None:
    """Knowledge bases: create, ingest, list, search, ask, evaluate, share. The CLI acts as the admin: what it
    creates is the admin's, and it sees and changes every knowledge base."""
    try:
        ctx.obj = Settings(**({"backend": backend} if backend else {}))  # type: ignore[arg-type]  # pydantic checks
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from None


@kb.command("create")
@click.argument("name")
@click.option("--embedding-model", help="Titan or Cohere embedding model.  [default: amazon.titan-embed-text-v2:0]")
@click.option("--dimensions", type=int, help="Vector size (Titan v2: 256, 512, 1024).  [default: 1024]")
@click.option("--chunk-tokens", type=int, help="Tokens per chunk.  [default: 300]")
@click.option("--overlap", help="Overlap between chunks, e.g. 20%.  [default: 20%]")
@click.option("--hierarchical", is_flag=True, help="Search small chunks, answer from their larger parent passages.")
@click.option("--parent-tokens", type=int, help="Tokens per parent passage with --hierarchical.  [default: 1500]")
@click.option("--description", default="", help="What the knowledge base holds.")
@click.pass_context
def create(ctx: click.Context, name: str, embedding_model: str | None, dimensions: int | None,
           chunk_tokens: int | None, overlap: str | None, hierarchical: bool, parent_tokens: int | None,
           description: str) -> None:  # fmt: skip
    """Create a local knowledge base."""
    share = _percent(overlap) if overlap is not None else None
    config = _run(
        ctx,
        lambda s: s.knowledge.create(
            name, embedding_model=embedding_model, dimensions=dimensions, chunk_tokens=chunk_tokens, overlap=share,
            hierarchical=hierarchical, parent_tokens=parent_tokens, description=description,
        ),
    )  # fmt: skip
    shape = ", hierarchical" if config.hierarchical else ""
    click.echo(
        f"Created {config.name}: {config.embedding_model} ({config.dimensions} dimensions), chunks of "
        f"{config.chunk_tokens} tokens with {config.overlap:.0%} overlap{shape}."
    )


@kb.command("add-bedrock")
@click.argument("name")
@click.option("--knowledge-base-id", required=True, help="The Bedrock knowledge base's id.")
@click.option("--search-type", type=click.Choice(["HYBRID", "SEMANTIC"]), help="Override Bedrock's choice.")
@click.option("--description", default="")
@click.pass_context
def add_bedrock(
    ctx: click.Context, name: str, knowledge_base_id: str, search_type: str | None, description: str
) -> None:
    """Register a managed Bedrock knowledge base (searched with bedrock-agent-runtime Retrieve)."""
    config = _run(
        ctx,
        lambda s: s.knowledge.add_bedrock(name, knowledge_base_id, search_type=search_type, description=description),
    )
    click.echo(f"Added {config.name}: Bedrock knowledge base {config.knowledge_base_id}.")


def _progress_printer() -> Callable[[IngestProgress], None]:
    live = sys.stderr.isatty()
    state = {"done": -1}

    def show(progress: IngestProgress) -> None:
        line = (
            f"files {progress.files_done}/{progress.files} · chunks {progress.chunks} · "
            f"embedded {progress.embedded}/{progress.chunks}"
        )
        if live:
            click.echo(f"\r{line} · {progress.current[:40]:<40}", nl=False, err=True)
        elif progress.files_done != state["done"]:
            state["done"] = progress.files_done
            click.echo(line, err=True)

    return show


@kb.command("ingest")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True)
@click.option("--sync", is_flag=True, help="Remove documents whose files are gone from the folders given.")
@click.option("--tag", "tags", multiple=True, help="Tag the documents (repeat for more).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def ingest(
    ctx: click.Context, name: str, paths: tuple[str, ...], sync: bool, tags: tuple[str, ...], as_json: bool
) -> None:
    """Add files, folders (recursively) and globs; unchanged files are skipped, changed ones replaced.

    A file is named by its path under the folder given (a glob: under its fixed folder), else by its file name,
    as an upload of it would be; content already stored under another name is not stored twice."""
    from quarry.kb import IngestProgress, SourceFile, find_files

    async def work(session: _Session) -> Any:
        base = await session.knowledge.get(name)
        files, roots = find_files(paths)
        sources = [SourceFile.from_path(path, document, tags=tags) for path, document in files]
        progress = IngestProgress(on_change=_progress_printer())
        try:
            return await base.ingest(sources, sync_roots=roots if sync else [], progress=progress)
        finally:
            if sys.stderr.isatty():
                click.echo("", err=True)

    try:
        report = _run(ctx, work, bedrock=True)
    except KeyboardInterrupt:
        raise click.ClickException(
            "interrupted: documents finished before the interruption are saved whole, the rest are not; "
            "run the same command again to continue"
        ) from None
    if as_json:
        _echo_json(report.to_json())
    else:
        click.echo(
            f"{len(report.added)} added, {len(report.replaced)} replaced, {len(report.unchanged)} unchanged, "
            f"{len(report.removed)} removed, {len(report.duplicates)} already stored under another name, "
            f"{len(report.failed)} failed; {report.chunks} chunks "
            f"(extract {report.seconds['extract']:.1f} s, embed {report.seconds['embed']:.1f} s)."
        )
        for file, holder in report.duplicates.items():
            click.echo(f"  not stored twice: {file} has the same content as {holder}", err=True)
        for file, why in report.failed.items():
            click.echo(f"  failed {file}: {why}", err=True)
    if report.failed:
        ctx.exit(1)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M") if timestamp else "-"


@kb.command("ls")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_command(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List knowledge bases, or the documents of one."""

    async def work(session: _Session) -> list[dict[str, Any]]:
        if name is not None:
            base = await session.knowledge.get(name)
            return [document.to_json() for document in await base.documents()]
        from quarry.auth import shown_owner

        rows = []
        for entry in await session.knowledge.list():
            documents, chunks = await (await session.knowledge.open(entry)).counts()
            owner = {"owner": shown_owner(entry.owner), "shared_with": entry.ownership.to_json()["shared_with"]}
            rows.append({**entry.config.to_json(), "documents": documents, "chunks": chunks, **owner})
        return rows

    rows = _run(ctx, work)
    if as_json:
        _echo_json(rows)
    elif name is not None:
        for row in rows:
            pages = f"{row['pages']} pages, " if row["pages"] else ""
            tags = f"  [{', '.join(row['tags'])}]" if row["tags"] else ""
            click.echo(
                f"{row['name']:<40} {pages}{row['chunks']} chunks  {_when(row['added_at'])}  {row['source']}{tags}"
            )
    else:
        for row in rows:
            what = (
                f"Bedrock knowledge base {row['knowledge_base_id']}"
                if row["kind"] == "bedrock"
                else f"{row['documents']} documents, {row['chunks']} chunks, {row['embedding_model']}"
            )
            shared = ", ".join(grant["grantee"] for grant in row["shared_with"])
            sharing = f", shared with {shared}" if shared else ""
            click.echo(f"{row['name']:<24} {what}; owner {row['owner']}{sharing}")


def _shared(grants: Any) -> str:
    return ", ".join(grant.grantee for grant in grants) or "no one"


async def _share(session: _Session, name: str, grantees: tuple[str, ...], *, add: bool) -> Any:
    from quarry.auth import parse_grantee
    from quarry.kb import Grant, Ownership

    entry = await session.knowledge.entry(name)
    named = [parse_grantee(grantee, param="grantee") for grantee in grantees]
    kept = [grant for grant in entry.shared_with if grant.grantee not in named]
    shared = (*kept, *(Grant(grantee) for grantee in named)) if add else tuple(kept)
    return await session.knowledge.set_ownership(name, Ownership(owner=entry.owner, shared_with=shared))


@kb.command("share")
@click.argument("name")
@click.argument("grantees", nargs=-1, required=True)
@click.pass_context
def share(ctx: click.Context, name: str, grantees: tuple[str, ...]) -> None:
    """Let others read a knowledge base: key ids (`key_…`), `user:ID` (a toolbox user) or `*` (every caller)."""
    ownership = _run(ctx, lambda s: _share(s, name, grantees, add=True))
    click.echo(f"{name} is shared with {_shared(ownership.shared_with)}.")


@kb.command("unshare")
@click.argument("name")
@click.argument("grantees", nargs=-1, required=True)
@click.pass_context
def unshare(ctx: click.Context, name: str, grantees: tuple[str, ...]) -> None:
    """Stop sharing a knowledge base with these grantees."""
    ownership = _run(ctx, lambda s: _share(s, name, grantees, add=False))
    click.echo(f"{name} is shared with {_shared(ownership.shared_with)}.")


async def _transfer(session: _Session, name: str, owner: str) -> Any:
    from quarry.auth import parse_owner
    from quarry.kb import Ownership

    entry = await session.knowledge.entry(name)
    new = Ownership(owner=parse_owner(owner), shared_with=entry.shared_with)
    return await session.knowledge.set_ownership(name, new)


@kb.command("transfer")
@click.argument("name")
@click.argument("owner")
@click.pass_context
def transfer(ctx: click.Context, name: str, owner: str) -> None:
    """Give a knowledge base to another owner: a key id (`key_…`), `user:ID`, or `admin`."""
    from quarry.auth import shown_owner

    ownership = _run(ctx, lambda s: _transfer(s, name, owner))
    click.echo(f"{name} belongs to {shown_owner(ownership.owner)}.")


@kb.command("rm")
@click.argument("name")
@click.argument("document", required=False)
@click.option("--yes", is_flag=True, help="Do not ask before removing a whole knowledge base.")
@click.pass_context
def remove(ctx: click.Context, name: str, document: str | None, yes: bool) -> None:
    """Remove a document (by name, path or id), or the whole knowledge base."""
    if document is not None:
        found = Path(document)
        path = str(found.resolve()) if found.is_file() else None  # a path names the document ingested from it
        removed = _run(ctx, lambda s: _remove_document(s, name, document, path))
        click.echo(f"Removed {removed} from {name}.")
        return
    if not yes:
        click.confirm(f"Remove the knowledge base {name} and everything in it?", abort=True)
    _run(ctx, lambda s: s.knowledge.delete(name))
    click.echo(f"Removed {name}.")


async def _remove_document(session: _Session, name: str, key: str, path: str | None) -> str:
    """What was removed, in words; a name several documents have removes none and lists them (AmbiguousDocument)."""
    from quarry.kb import describe

    base = await session.knowledge.get(name)
    return describe(await base.remove(key, path=path))


def _query(text: str, top_k: int, mode: str, tags: tuple[str, ...], sources: tuple[str, ...]) -> Any:
    from quarry.kb import Query

    filters: list[dict[str, Any]] = [{"listContains": {"key": "tags", "value": tag}} for tag in tags]
    if sources:
        filters.append({"orAll": [{"stringContains": {"key": "source", "value": s}} for s in sources]}
                       if len(sources) > 1 else {"stringContains": {"key": "source", "value": sources[0]}})  # fmt: skip
    spec = None if not filters else filters[0] if len(filters) == 1 else {"andAll": filters}
    return Query(text=text, top_k=top_k, mode=mode, filter=spec)  # type: ignore[arg-type]  # click.Choice checks mode


_search_options = [
    click.option("--top-k", type=click.IntRange(1, 100), default=5, show_default=True),
    click.option("--mode", type=click.Choice(["hybrid", "keyword", "vector"]), default="hybrid", show_default=True),
    click.option("--tag", "tags", multiple=True, help="Only documents with this tag."),
    click.option("--source", "sources", multiple=True, help="Only documents whose source contains this."),
]


def _with_search_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_search_options):
        command = option(command)
    return command


@kb.command("search")
@click.argument("name")
@click.argument("query")
@_with_search_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(ctx: click.Context, name: str, query: str, top_k: int, mode: str, tags: tuple[str, ...],
           sources: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """Search: the best passages with their documents, pages and scores."""
    from quarry.kb import retrieval_result

    async def work(session: _Session) -> Any:
        base = await session.knowledge.get(name)
        return await base.retrieve(_query(query, top_k, mode, tags, sources))

    hits = _run(ctx, work, bedrock=True)
    if as_json:
        _echo_json([retrieval_result(hit, name) for hit in hits])
        return
    if not hits:
        click.echo("No passages found.")
    for n, hit in enumerate(hits, start=1):
        page = f", page {hit.chunk.page}" if hit.chunk.page else ""
        click.echo(click.style(f"[{n}] {hit.document.name}{page}  score {hit.score:.3f}", bold=True))
        click.echo("    " + " ".join(hit.chunk.text.split())[:400] + "\n")


@kb.command("ask")
@click.argument("name")
@click.argument("question")
@click.option("--model", help="Model that answers.  [default: kb.answer_model, else models.default]")
@_with_search_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer and its sources as JSON.")
@click.pass_context
def ask(ctx: click.Context, name: str, question: str, model: str | None, top_k: int, mode: str,
        tags: tuple[str, ...], sources: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """Answer a question from the knowledge base, citing its passages as [n]."""
    from quarry.kb import Answer

    async def work(session: _Session) -> Any:
        assert session.catalog is not None
        settings = session.settings
        resolved = await session.catalog.resolve(model or settings.kb.answer_model or settings.models.default)
        base = await session.knowledge.get(name)
        hits = await base.passages(question, _query(question, top_k, mode, tags, sources))
        async for item in base.answer_stream(session.runtime, resolved.id, question, hits):
            if isinstance(item, Answer):
                return item
            if not as_json:
                click.echo(item, nl=False)
        raise AssertionError("the answer stream ends with the Answer")

    answer = _run(ctx, work, bedrock=True)
    if as_json:
        _echo_json(answer.to_json())
        return
    click.echo("\n")
    for source in answer.sources():
        if source["cited"]:
            page = f", page {source['page']}" if source["page"] else ""
            click.echo(f"[{source['n']}] {source['document']}{page} — {source['source']}")


@kb.command("eval")
@click.argument("name")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mode", "modes", multiple=True, type=click.Choice(["keyword", "vector", "hybrid"]),
              help="Modes to score (repeat).  [default: all three]")  # fmt: skip
@click.option("--misses", is_flag=True, help="Also list the questions each mode finds nothing relevant for.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def evaluate_command(
    ctx: click.Context, name: str, questions: Path, modes: tuple[str, ...], misses: bool, as_json: bool
) -> None:
    """Score retrieval on labelled questions: recall@5, MRR and nDCG@10 for keyword (BM25), vector and hybrid."""
    from quarry.kb import Query, evaluate, format_report, load_eval_set

    try:
        eval_set = load_eval_set(questions)
    except QuarryError as exc:
        raise click.ClickException(exc.message) from None

    async def work(session: _Session) -> Any:
        base = await session.knowledge.get(name)

        async def search(mode: str, question: str) -> list[str]:
            hits = await base.retrieve(Query(text=question, top_k=50, mode=mode))  # type: ignore[arg-type]
            return [hit.document.name for hit in hits]

        return await evaluate(eval_set, search, modes or ("keyword", "vector", "hybrid"))

    results = _run(ctx, work, bedrock=True)
    if as_json:
        _echo_json(
            {
                mode: {
                    "recall_at_5": scores.recall_at_5,
                    "mrr": scores.mrr,
                    "ndcg_at_10": scores.ndcg_at_10,
                    "questions": len(scores.questions),
                    "misses": [result.question.id for result in scores.misses],
                }
                for mode, scores in results.items()
            }
        )
    else:
        click.echo(format_report(results, misses=misses))
