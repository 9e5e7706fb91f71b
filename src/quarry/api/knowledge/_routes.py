"""/v1/knowledge-bases: list, create, show, delete; documents (list, multipart upload, delete); retrieve in
Bedrock's Retrieve shape; answers with citations, whole or as SSE.

Access follows model scopes (`quarry.auth.may_use_knowledge_base`, the one rule every route asks): a key may use
knowledge base NAME when its model patterns allow `kb:NAME`. Whatever calls Bedrock (upload embeds, retrieve
embeds or calls Retrieve, answer calls a model) is admitted under the key's limits first.
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
from quarry.api._errors import error_body
from quarry.api._estimate import estimate_tokens
from quarry.api._responses import json_response
from quarry.api._sse import named_event
from quarry.api.knowledge._schemas import AnswerRequest, CreateKnowledgeBase, RetrieveRequest
from quarry.api.knowledge._upload import read_uploads
from quarry.auth import Principal, check_knowledge_base, may_use_knowledge_base
from quarry.emulator import local_knowledge_base_id
from quarry.exchange import exchange_of
from quarry.kb import (
    Answer,
    IngestProgress,
    KnowledgeBase,
    KnowledgeBases,
    Query,
    retrieval_result,
    source_json,
)

__all__ = ["router"]


async def _knowledge(request: Request, api: str, name: str | None = None) -> tuple[KnowledgeBases, Principal]:
    principal = await services_of(request).authenticate(request, api)
    knowledge = context_of(request).knowledge_bases()
    if name is not None:
        check_knowledge_base(principal, name)
    return knowledge, principal


async def _base(request: Request, api: str) -> tuple[KnowledgeBase, Principal]:
    name: str = request.path_params["name"]
    knowledge, principal = await _knowledge(request, api, name)
    return await knowledge.get(name), principal


async def describe(base: KnowledgeBase) -> dict[str, Any]:
    documents, chunks = await base.counts()
    body = {"object": "knowledge_base", **base.config.to_json(), "documents": documents, "chunks": chunks}
    if base.config.kind == "local":
        # The id the offline emulator's Retrieve knows it by (Bedrock ids are ten letters and digits).
        body["emulator_knowledge_base_id"] = local_knowledge_base_id(base.name)
    return body


async def list_knowledge_bases(request: Request) -> Response:
    knowledge, principal = await _knowledge(request, "kb.list")
    data = []
    for config in await knowledge.list():
        if may_use_knowledge_base(principal, config.name):
            data.append(await describe(await knowledge.get(config.name)))
    return json_response({"object": "list", "data": data})


@json_body(CreateKnowledgeBase)
async def create_knowledge_base(request: Request) -> Response:
    body = read_model(await read_json(request, services_of(request).settings.max_body_bytes), CreateKnowledgeBase)
    knowledge, _ = await _knowledge(request, "kb.create", body.name)
    if body.knowledge_base_id is not None:
        await knowledge.add_bedrock(
            body.name, body.knowledge_base_id, search_type=body.search_type, description=body.description
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
        )
    return json_response(await describe(await knowledge.get(body.name)), 201)


async def show_knowledge_base(request: Request) -> Response:
    return json_response(await describe((await _base(request, "kb.get"))[0]))


async def delete_knowledge_base(request: Request) -> Response:
    name: str = request.path_params["name"]
    knowledge, _ = await _knowledge(request, "kb.delete", name)
    await knowledge.delete(name)
    return json_response({"object": "knowledge_base.deleted", "name": name, "deleted": True})


async def list_documents(request: Request) -> Response:
    base = (await _base(request, "kb.documents"))[0]
    return json_response({"object": "list", "data": [document.to_json() for document in await base.documents()]})


async def delete_document(request: Request) -> Response:
    base = (await _base(request, "kb.documents.delete"))[0]
    document = await base.remove(request.path_params["document"])
    return json_response({"object": "document.deleted", "id": document.id, "name": document.name, "deleted": True})


async def upload_documents(request: Request) -> Response:
    base, principal = await _base(request, "kb.documents.upload")
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
    pieces = base.answer_stream(services.runtime, model.id, body.question, hits)

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
router.add_route("/knowledge-bases/{name}", delete_knowledge_base, methods=["DELETE"])
router.add_route("/knowledge-bases/{name}/documents", list_documents, methods=["GET"])
router.add_route("/knowledge-bases/{name}/documents", upload_documents, methods=["POST"])
router.add_route("/knowledge-bases/{name}/documents/{document:path}", delete_document, methods=["DELETE"])
router.add_route("/knowledge-bases/{name}/retrieve", retrieve, methods=["POST"])
router.add_route("/knowledge-bases/{name}/answer", answer, methods=["POST"])
