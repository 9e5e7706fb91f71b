"""The Knowledge tab: choose or create a knowledge base, upload documents with live progress, and list or delete
them; asking is in `_kb_ask`. Everything goes through Quarry's knowledge-base API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from quarry.ui._kb_ask import build_ask
from quarry.ui._kb_client import KnowledgeClient
from quarry.ui._kb_format import document_rows, kb_error, plural, progress_line, report_markdown
from quarry.ui._sanitize import safe_markdown
from quarry.ui._session import Sessions
from quarry.ui._toolbox import Session, Toolbox

__all__ = ["build_knowledge"]

_HEADERS = ["Document", "Pages", "Chunks", "Tags"]
_CHOOSE_FIRST = "Choose a knowledge base first, or create one."


def _about(base: dict[str, Any]) -> str:
    counts = f"{plural(base.get('documents', 0), 'document')} · {plural(base.get('chunks', 0), 'chunk')}"
    model = f" · embeddings `{base['embedding_model']}`" if base.get("embedding_model") else ""
    description = f"{base['description']}  \n" if base.get("description") else ""
    return safe_markdown(f"{description}{counts}{model}")  # anyone who can create one writes its description


async def _library(client: KnowledgeClient, name: str) -> tuple[str, dict[str, Any], Any]:
    """The chosen knowledge base's summary, its documents table and the documents to choose from for deleting."""
    base = await client.knowledge_base(name)
    documents = await client.documents(name)
    names = [document["name"] for document in documents]
    table = {"headers": _HEADERS, "data": document_rows(documents)}
    return _about(base), table, gr.update(choices=names, value=None)


def _empty_library() -> tuple[str, dict[str, Any], Any]:
    return "", {"headers": _HEADERS, "data": []}, gr.update(choices=[], value=None)


def _paths(files: list[Any]) -> list[Path]:
    # Gradio keeps each upload under its own folder with the file's original name, which becomes the document's.
    return [Path(file if isinstance(file, str) else file.name) for file in files]


def build_knowledge(toolbox: Toolbox, sessions: Sessions, tab: gr.Tab) -> None:
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            with gr.Row():
                choose = gr.Dropdown(label="Knowledge base", choices=[], scale=4, elem_id="kb-choose")
                refresh = gr.Button("Refresh", size="sm", scale=1, elem_id="kb-refresh")
            about = gr.Markdown("", elem_id="kb-about")
            with gr.Accordion("New knowledge base", open=False, elem_id="kb-new"):
                name = gr.Textbox(label="Name", placeholder="lowercase letters, digits, - and _", elem_id="kb-new-name")
                description = gr.Textbox(label="Description (optional)", elem_id="kb-new-description")
                create = gr.Button("Create", variant="primary", elem_id="kb-create")
            status = gr.Markdown("", elem_id="kb-status")
            files = gr.File(
                label="Add documents (PDF, Word, Markdown, HTML, text)", file_count="multiple", elem_id="kb-files"
            )
            upload = gr.Button("Upload and index", variant="primary", elem_id="kb-upload")
            progress = gr.Markdown("", elem_id="kb-progress")
            documents = gr.Dataframe(
                headers=_HEADERS, interactive=False, label="Documents", wrap=True, elem_id="kb-documents"
            )
            with gr.Row():
                document = gr.Dropdown(label="Document", choices=[], scale=3, elem_id="kb-document")
                delete = gr.Button("Delete document", variant="stop", size="sm", scale=1, elem_id="kb-delete")
        with gr.Column(scale=3):
            build_ask(toolbox, sessions, choose)
    library = [about, documents, document]

    async def refresh_list(session_value: Session, current: str | None) -> tuple[Any, str]:
        try:
            bases = await KnowledgeClient(toolbox.client(session_value)).knowledge_bases()
        except Exception as exc:
            return gr.skip(), kb_error(exc)
        names = [base["name"] for base in bases]
        note = "" if names else "No knowledge bases yet: create one below."
        if current in names:
            # The value is left alone: setting it, even to itself, could fire `change` and clear the answer shown.
            return gr.update(choices=names), note
        # None chosen yet, or the chosen one was deleted elsewhere: the first there is, ready to ask and fill.
        return gr.update(choices=names, value=names[0] if names else None), note

    refresh.click(sessions.bind(refresh_list), [*sessions.inputs, choose], [choose, status])
    tab.select(sessions.bind(refresh_list), [*sessions.inputs, choose], [choose, status])

    async def open_base(session_value: Session, chosen: str | None) -> tuple[Any, ...]:
        if not chosen:
            return gr.skip(), *_empty_library()
        try:  # the status is left alone: it may say the knowledge base was just created
            return gr.skip(), *await _library(KnowledgeClient(toolbox.client(session_value)), chosen)
        except Exception as exc:
            return kb_error(exc), *_empty_library()

    choose.change(sessions.bind(open_base), [*sessions.inputs, choose], [status, *library])

    async def create_base(session_value: Session, new_name: str, new_description: str) -> tuple[Any, ...]:
        new_name = new_name.strip()
        if not new_name:
            return gr.skip(), "Give the new knowledge base a name.", gr.skip(), gr.skip()
        client = KnowledgeClient(toolbox.client(session_value))
        try:
            await client.create(new_name, new_description.strip())
            names = [base["name"] for base in await client.knowledge_bases()]
        except Exception as exc:
            return gr.skip(), kb_error(exc), gr.skip(), gr.skip()
        return (
            gr.update(choices=names, value=new_name),
            safe_markdown(f"Created **{new_name}**: add documents below."),
            "",
            "",
        )

    create.click(sessions.bind(create_base), [*sessions.inputs, name, description], [choose, status, name, description])

    async def upload_files(
        session_value: Session, chosen: str | None, added: list[Any] | None
    ) -> AsyncIterator[tuple[Any, ...]]:
        unchanged = tuple(gr.skip() for _ in (*library, files))
        if not chosen:
            yield _CHOOSE_FIRST, *unchanged
            return
        if not added:
            yield "Add one or more files first.", *unchanged
            return
        paths = _paths(added)
        client = KnowledgeClient(toolbox.client(session_value))
        yield f"Uploading {plural(len(paths), 'file')}…", *unchanged
        try:
            report: dict[str, Any] = {}
            async for event, data in client.upload(chosen, paths):
                if event == "progress":
                    yield progress_line(data), *unchanged
                elif event == "done":
                    report = data
            yield report_markdown(report), *await _library(client, chosen), None
        except Exception as exc:
            yield kb_error(exc), *unchanged

    upload.click(sessions.bind(upload_files), [*sessions.inputs, choose, files], [progress, *library, files])

    def pick_row(event: gr.SelectData) -> Any:
        row = event.row_value or []
        return row[0] if row else gr.skip()

    documents.select(pick_row, None, [document])

    async def delete_document(session_value: Session, chosen: str | None, doomed: str | None) -> tuple[Any, ...]:
        if not chosen:
            return _CHOOSE_FIRST, *(gr.skip() for _ in library)
        if not doomed:
            return "Choose the document to delete (or click its row).", *(gr.skip() for _ in library)
        client = KnowledgeClient(toolbox.client(session_value))
        try:
            await client.delete_document(chosen, doomed)
            return safe_markdown(f"Deleted `{doomed}`."), *await _library(client, chosen)
        except Exception as exc:
            return kb_error(exc), *(gr.skip() for _ in library)

    delete.click(sessions.bind(delete_document), [*sessions.inputs, choose, document], [progress, *library])
