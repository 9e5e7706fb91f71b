"""Asking a knowledge base: the answer streams in with its citations as links; a citation or a source opens the
passage behind it, with its document, page and headings."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from quarry.ui._kb_client import KnowledgeClient
from quarry.ui._kb_format import CITE_PREFIX, answer_markdown, kb_error, passage_markdown, plural, source_choices
from quarry.ui._session import Sessions
from quarry.ui._stop import run_with_stop, stop_button
from quarry.ui._toolbox import Session, Toolbox

__all__ = ["build_ask"]

# The answer's Markdown sits inside this HTML block, whose click listener sees every click on a citation link
# (Gradio's Markdown keeps an <a>'s href but drops data attributes) and sends its number to the server.
_CITATION_CLICKS = (
    f"const prefix = {json.dumps(CITE_PREFIX)};"
    + """
element.addEventListener('click', (event) => {
  const link = event.target.closest(`a[href^="${prefix}"]`);
  if (!link) return;
  event.preventDefault();
  trigger('click', {n: Number(link.getAttribute('href').slice(prefix.length))});
});
"""
)

Sources = list[dict[str, Any]]


def _finished(sources: Sources, cited: list[int]) -> str:
    if not sources:
        return "Done: nothing in the knowledge base matched, so there is nothing to cite."
    if not cited:
        return f"Done: {plural(len(sources), 'passage')} found, none cited."
    return f"Done: cites {', '.join(f'[{n}]' for n in cited)}. Click a citation or a source to read the passage."


def _passage(sources: Sources, number: Any) -> tuple[Any, str]:
    for source in sources:
        if source["n"] == number:
            return number, passage_markdown(source)
    return gr.skip(), ""


def build_ask(toolbox: Toolbox, sessions: Sessions, choose: gr.Dropdown) -> None:
    sources = gr.State([])  # the last answer's sources, as the API sent them
    question = gr.Textbox(label="Question", lines=2, placeholder="Ask the chosen knowledge base", elem_id="kb-question")
    with gr.Row():
        ask = gr.Button("Ask", variant="primary", elem_id="kb-ask")
        stop = stop_button("kb-stop")
    status = gr.Markdown("", elem_id="kb-ask-status")
    with gr.HTML(html_template="@children", js_on_load=_CITATION_CLICKS, elem_id="kb-answer-box") as answer_box:
        answer = gr.Markdown("", elem_id="kb-answer")  # no copy button: it would copy the citation links' HTML
    listing = gr.Radio(label="Sources", choices=[], elem_id="kb-sources")
    passage = gr.Markdown("", elem_id="kb-passage")
    outputs = [status, answer, sources, listing, passage]

    async def ask_question(session_value: Session, chosen: str | None, text: str) -> AsyncIterator[tuple[Any, ...]]:
        if not chosen:
            yield "Choose a knowledge base first, or create one.", *(gr.skip() for _ in outputs[1:])
            return
        if not text.strip():
            yield "Type a question first.", *(gr.skip() for _ in outputs[1:])
            return
        found: Sources = []
        written = ""
        yield "Searching…", "", [], gr.update(choices=[], value=None), ""
        try:
            async for event, data in KnowledgeClient(toolbox.client(session_value)).answer(chosen, text.strip()):
                if event == "sources":
                    found = data["sources"]
                    note = f"Found {plural(len(found), 'passage')}; writing the answer…"
                    yield note, gr.skip(), found, gr.update(choices=source_choices(found), value=None), gr.skip()
                elif event == "delta":
                    written += data["text"]
                    yield gr.skip(), answer_markdown(written, len(found)), gr.skip(), gr.skip(), gr.skip()
                elif event == "done":
                    found = data["sources"]
                    shown = answer_markdown(data["answer"], len(found))
                    choices = gr.update(choices=source_choices(found), value=None)
                    yield _finished(found, data.get("citations", [])), shown, found, choices, gr.skip()
        except Exception as exc:
            yield kb_error(exc), gr.skip(), gr.skip(), gr.skip(), gr.skip()

    inputs = [*sessions.inputs, choose, question]
    for trigger in (ask.click, question.submit):  # cancelling the run closes its HTTP stream
        run_with_stop(trigger, stop, sessions.bind(ask_question), inputs, outputs)

    def open_citation(found: Sources, event: gr.EventData) -> tuple[Any, str]:
        return _passage(found, getattr(event, "n", None))

    answer_box.click(open_citation, [sources], [listing, passage])

    def open_source(found: Sources, number: Any) -> str:
        return _passage(found, number)[1]

    listing.input(open_source, [sources, listing], [passage])

    def clear() -> tuple[Any, ...]:
        return "", "", [], gr.update(choices=[], value=None), ""

    choose.change(clear, None, outputs)
