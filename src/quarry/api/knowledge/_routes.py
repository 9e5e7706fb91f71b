"""/v1/knowledge-bases: list, create, show, change (owner, sharing), delete; documents (list, multipart upload,
delete); retrieve in Bedrock's Retrieve shape; answers with citations, whole or as SSE.

Access is `quarry.auth`'s one rule (`check_read`, `check_change`): the key's model patterns must allow `kb:NAME`,
and the caller must own the knowledge base, have it shared with it (to read) or be the admin; one it may not see
is a 404 like one that does not exist. Whatever calls Bedrock (upload embeds, retrieve embeds or calls Retrieve,
answer calls a model) is admitted under the key's limits first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from quarry.api._body import json_body, read_json, read_model
from quarry.api._context import context_of, services_of
from quarry.api._core import guardrail_config
from quarry.api._errors import error_body
from quarry.api._estimate import estimate_tokens
from quarry.api._responses import json_response
from quarry.api._sse import named_event
from quarry.api.knowledge._schemas import AnswerRequest, ChangeKnowledgeBase, CreateKnowledgeBase, RetrieveRequest
from quarry.api.knowledge._upload import read_uploads
from quarry.auth import (
    Principal,
    check_change,
    check_knowledge_base,
    check_read,
    is_admin,
    may_change,
    may_read,
    owner_of,
    parse_grantee,
    parse_owner,
    shown_owner,
)
from quarry.emulator import local_knowledge_base_id
from quarry.errors import PermissionDenied
from quarry.exchange import exchange_of
from quarry.kb import (
    AmbiguousDocument,
    Answer,
    Grant,
    IngestProgress,
    KnowledgeBase,
    KnowledgeBases,
    Ownership,
    Query,
    Registered,
    retrieval_result,
    source_json,
)

__all__ = ["router"]


async def _knowledge(request: Request, api: str) -> tuple[KnowledgeBases, Principal]:
    principal = await services_of(request).authenticate(request, api)
    return context_of(request).knowledge_bases(), principal


async def _entry(request: Request, api: str, *, change: bool) -> tuple[KnowledgeBases, Registered, Principal]:
    """The knowledge base the path names, once the caller may read it (with `change`: change it)."""
    name: str = request.path_params["name"]
    knowledge, principal = await _knowledge(request, api)
    check_knowledge_base(principal, name)  # before the lookup: a name the key's patterns exclude is not confirmed
    entry = await knowledge.entry(name)
    (check_change if change else check_read)(principal, entry)
    return knowledge, entry, principal


async def _base(request: Request, api: str, *, change: bool = False) -> tuple[KnowledgeBase, Principal]:
    knowledge, entry, principal = await _entry(request, api, change=change)
    return await knowledge.open(entry), principal


async def describe(base: KnowledgeBase, principal: Principal) -> dict[str, Any]:
    documents, chunks = await base.counts()
    body = {"object": "knowledge_base", **base.config.to_json(), "documents": documents, "chunks": chunks}
    if base.config.kind == "local":
        # The id the offline emulator's Retrieve knows it by (Bedrock ids are ten letters and digits).
        body["emulator_knowledge_base_id"] = local_knowledge_base_id(base.name)
    if may_change(principal, base):  # who else may read it is the owner's business, not a reader's
        body["owner"] = shown_owner(base.owner)
        body["shared_with"] = [grant.to_json() for grant in base.shared_with]
    return body


async def list_knowledge_bases(request: Request) -> Response:
    knowledge, principal = await _knowledge(request, "kb.list")
    data = []
    for entry in await knowledge.list():
        if may_read(principal, entry):
            data.append(await describe(await knowledge.open(entry), principal))
    return json_response({"object": "list", "data": data})


@json_body(CreateKnowledgeBase)
async def create_knowledge_base(request: Request) -> Response:
    body = read_model(await read_json(request, services_of(request).settings.max_body_bytes), CreateKnowledgeBase)
    knowledge, principal = await _knowledge(request, "kb.create")
    check_knowledge_base(principal, body.name)
    owner = owner_of(principal)
    if body.knowledge_base_id is not None and not is_admin(principal):
        # It reaches whatever the gateway's AWS credentials reach, another owner's knowledge base included (in the
        # emulator, any local one by its id): the admin registers it, then gives or shares it.
        raise PermissionDenied("Only the admin may register a Bedrock knowledge base.", code="admin_only")
    if body.knowledge_base_id is not None:
        await knowledge.add_bedrock(
            body.name,
            body.knowledge_base_id,
            search_type=body.search_type,
            description=body.description,
            owner=owner,
        )
    else:
        await knowledge.create(
            body.name,
            embedding_model=body.embedding_model,
            dimensions=body.dimensions,
            chunk_tokens=body.chunk_tokens,
            overlap=body.overlap,
            hierarchical=body.hierarchical,
            parent_tokens=body.parent_tokens,
            description=body.description,
            owner=owner,
        )
    return json_response(await describe(await knowledge.get(body.name), principal), 201)


async def show_knowledge_base(request: Request) -> Response:
    base, principal = await _base(request, "kb.get")
    return json_response(await describe(base, principal))


@json_body(ChangeKnowledgeBase)
async def change_knowledge_base(request: Request) -> Response:
    """Share a knowledge base (the list given replaces the one it had), or, for the admin, give it to a new owner."""
    body = read_model(await read_json(request, services_of(request).settings.max_body_bytes), ChangeKnowledgeBase)
    knowledge, entry, principal = await _entry(request, "kb.update", change=True)
    owner = entry.owner
    if body.owner is not None:
        if not is_admin(principal):
            raise PermissionDenied("Only the admin may give a knowledge base to another owner.", code="admin_only")
        owner = parse_owner(body.owner)
    shared = entry.shared_with
    if body.shared_with is not None:
        grants = {parse_grantee(grant.grantee): grant.access for grant in body.shared_with}
        shared = tuple(Grant(grantee, access) for grantee, access in grants.items())
    ownership = await knowledge.set_ownership(entry.name, Ownership(owner=owner, shared_with=shared))
    return json_response(await describe(await knowledge.open(Registered(entry.config, ownership)), principal))


async def delete_knowledge_base(request: Request) -> Response:
    knowledge, entry, _ = await _entry(request, "kb.delete", change=True)
    await knowledge.delete(entry.name)
    return json_response({"object": "knowledge_base.deleted", "name": entry.name, "deleted": True})


async def list_documents(request: Request) -> Response:
    base = (await _base(request, "kb.documents"))[0]
    return json_response({"object": "list", "data": [document.to_json() for document in await base.documents()]})


async def delete_document(request: Request) -> Response:
    """Remove the document an id, source or name names; a name several documents have removes none: 409
    `ambiguous_document`, with the documents of that name as `candidates` to pick one from by id."""
    base = (await _base(request, "kb.documents.delete", change=True))[0]
    try:
        document = await base.remove(request.path_params["document"])
    except AmbiguousDocument as exc:
        body = error_body(exc)
        body["error"]["candidates"] = [candidate.to_json() for candidate in exc.candidates]
        return json_response(body, exc.status)
    return json_response({"object": "document.deleted", **document.to_json(), "deleted": True})


async def upload_documents(request: Request) -> Response:
    base, principal = await _base(request, "kb.documents.upload", change=True)
    services = services_of(request)
    # Embedding tokens are not known before the files are read and split; the request and a concurrency slot are.
    await services.limit(request, principal, 0)
    kb = services.settings.kb
    files, stream = await read_uploads(
        request, max_file_bytes=kb.max_upload_bytes, max_total_bytes=kb.max_upload_total_bytes
    )
    exchange = exchange_of(request)
    if not stream:
        report = await base.ingest(files)
        exchange.input_tokens = report.embedding_tokens  # recorded as usage, and settled against the key's tokens
        return json_response({"object": "ingest.report", **report.to_json()})
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def changed(progress: IngestProgress) -> None:
        queue.put_nowait({"event": "progress", "data": _progress(progress)})

    async def events() -> AsyncIterator[dict[str, Any]]:
        task = asyncio.create_task(base.ingest(files, progress=IngestProgress(on_change=changed)))
        try:
            while not task.done() or not queue.empty():
                getter = asyncio.create_task(queue.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                else:
                    getter.cancel()
            report = task.result()
            exchange.input_tokens = report.embedding_tokens
            yield {"event": "done", "data": {"object": "ingest.report", **report.to_json()}}
        finally:
            task.cancel()

    return _event_stream(request, events())


def _event_stream(request: Request, events: AsyncIterator[dict[str, Any]]) -> Response:
    """Server-sent events named by each item's `event`, with the keep-alives, cancellation and error event of every
    stream Quarry relays."""
    return services_of(request).stream(
        request,
        AsyncExitStack(),
        events,
        lambda event: [named_event(event["event"], event["data"])],
        finish=lambda: b"",
        render_error=lambda error: named_event("error", error_body(error)),
    )


def _progress(progress: IngestProgress) -> dict[str, Any]:
    return {
        "files": progress.files,
        "files_done": progress.files_done,
        "chunks": progress.chunks,
        "embedded": progress.embedded,
        "current": progress.current,
    }


@json_body(RetrieveRequest)
async def retrieve(request: Request) -> Response:
    base, principal = await _base(request, "kb.retrieve")
    services = services_of(request)
    raw = await read_json(request, services.settings.max_body_bytes)
    body = read_model(raw, RetrieveRequest)
    await services.limit(request, principal, estimate_tokens(raw, 0))  # the query is embedded, or sent to Retrieve
    search = body.retrievalConfiguration.vectorSearchConfiguration
    mode = body.searchMode or ("vector" if search.overrideSearchType == "SEMANTIC" else "hybrid")
    query = Query(
        text=body.retrievalQuery.text, top_k=search.numberOfResults, mode=mode, filter=search.filter,
        min_score=body.minScore,
    )  # fmt: skip
    hits = await base.retrieve(query)
    return json_response({"retrievalResults": [retrieval_result(hit, base.name) for hit in hits]})


@json_body(AnswerRequest)
async def answer(request: Request) -> Response:
    base, principal = await _base(request, "kb.answer")
    services = services_of(request)
    settings = services.settings
    raw = await read_json(request, settings.max_body_bytes)
    body = read_model(raw, AnswerRequest)
    model = await services.catalog.resolve(body.model or settings.kb.answer_model or settings.models.default)
    exchange = exchange_of(request)
    exchange.model, exchange.stream = model.id, body.stream
    await services.admit(request, principal, model, estimate_tokens(raw, settings.kb.max_answer_tokens) + 2000)
    query = Query(
        text=body.question, top_k=body.top_k or settings.kb.top_k, mode=body.search_mode, filter=body.filter,
        min_score=body.min_score,
    )  # fmt: skip
    hits = await base.passages(body.question, query)
    guardrail = await services.guardrail(principal, model)
    config = guardrail_config(guardrail, stream=True) if guardrail is not None else None
    pieces = base.answer_stream(services.runtime, model.id, body.question, hits, config)

    def finished(result: Answer) -> dict[str, Any]:
        exchange.input_tokens = result.usage.get("input_tokens", 0)
        exchange.output_tokens = result.usage.get("output_tokens", 0)
        return {"object": "knowledge_base.answer", "knowledge_base": base.name, "model": model.id, **result.to_json()}

    if not body.stream:
        async for item in pieces:
            if isinstance(item, Answer):
                return json_response(finished(item))
        raise AssertionError("answer_stream ends with the Answer")

    async def events() -> AsyncIterator[dict[str, Any]]:
        sources = [source_json(n, hit, cited=False) for n, hit in enumerate(hits, start=1)]
        yield {"event": "sources", "data": {"knowledge_base": base.name, "model": model.id, "sources": sources}}
        async for item in pieces:
            if isinstance(item, Answer):
                yield {"event": "done", "data": finished(item)}
            else:
                exchange.first_token()
                yield {"event": "delta", "data": {"text": item}}

    return _event_stream(request, events())


router = APIRouter()
router.add_route("/knowledge-bases", list_knowledge_bases, methods=["GET"])
router.add_route("/knowledge-bases", create_knowledge_base, methods=["POST"])
router.add_route("/knowledge-bases/{name}", show_knowledge_base, methods=["GET"])
router.add_route("/knowledge-bases/{name}", change_knowledge_base, methods=["PATCH"])
router.add_route("/knowledge-bases/{name}", delete_knowledge_base, methods=["DELETE"])
router.add_route("/knowledge-bases/{name}/documents", list_documents, methods=["GET"])
router.add_route("/knowledge-bases/{name}/documents", upload_documents, methods=["POST"])
router.add_route("/knowledge-bases/{name}/documents/{document:path}", delete_document, methods=["DELETE"])
router.add_route("/knowledge-bases/{name}/retrieve", retrieve, methods=["POST"])
router.add_route("/knowledge-bases/{name}/answer", answer, methods=["POST"])
