"""The Formatter tab: free text to JSON or YAML, parsed, and repaired by another model call when invalid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from quarry.ui._errors import readable_error
from quarry.ui._formatting import FormatProblem, NoStructure, check_document, load_schema
from quarry.ui._long import stream_answer
from quarry.ui._prompts import formatter_prompt, repair_prompt
from quarry.ui._sanitize import safe_markdown
from quarry.ui._session import Sessions
from quarry.ui._stop import stop_button
from quarry.ui._text_tabs import wire_run
from quarry.ui._toolbox import Session, Toolbox

__all__ = ["build_formatter"]


def _no_structure(target: str, problem: NoStructure) -> str:
    return (
        f"⚠️ No structure found: {problem}. The text seems to hold no fields, values or items to put into "
        f"{target}; give it text with data in it (names and values, a list of things) and press Format again."
    )


def build_formatter(toolbox: Toolbox, sessions: Sessions) -> None:
    text = gr.Textbox(label="Text", lines=6, elem_id="formatter-input")
    with gr.Row():
        target = gr.Radio(["JSON", "YAML"], value="JSON", label="Into", elem_id="formatter-target")
    schema_box = gr.Code(label="JSON Schema (optional)", language="json", lines=4, elem_id="formatter-schema")
    with gr.Row():
        run = gr.Button("Format", variant="primary", elem_id="formatter-run")
        stop = stop_button("formatter-stop")
    status = gr.Markdown("", elem_id="formatter-status")
    raw = gr.Markdown("", elem_id="formatter-stream")
    result = gr.Code(label="Result", interactive=False, elem_id="formatter-result")

    async def handle(
        session_value: Session, source: str, chosen: str, schema_text: str
    ) -> AsyncIterator[tuple[Any, ...]]:
        if not source.strip():
            yield "Enter some text first.", gr.skip(), gr.skip()
            return
        try:
            schema = load_schema(schema_text or "")
        except FormatProblem as exc:
            yield f"⚠️ {exc}", gr.skip(), gr.skip()
            return
        client = toolbox.client(session_value)
        language = "json" if chosen == "JSON" else "yaml"
        extra: dict[str, Any] = {}
        if chosen == "JSON":
            extra["response_format"] = (
                {"type": "json_schema", "json_schema": {"name": "result", "schema": schema}}
                if schema
                else {"type": "json_object"}
            )
        try:
            draft = ""
            async for draft in stream_answer(
                client, session_value.model, formatter_prompt(chosen, schema_text or ""), source, **extra
            ):
                yield "Formatting…", safe_markdown(f"```{language}\n{draft}\n```"), gr.skip()
            try:
                document = check_document(draft, chosen, schema)
            except NoStructure as nothing:
                yield _no_structure(chosen, nothing), gr.skip(), gr.update(value="", language=language)
                return
            except FormatProblem as problem:
                first_problem = safe_markdown(str(problem))  # it may quote the answer
            else:
                yield f"Valid {chosen}.", gr.skip(), gr.update(value=document, language=language)
                return
            repair = repair_prompt(chosen, schema_text or "", draft, first_problem)
            fixed = ""
            async for fixed in stream_answer(client, session_value.model, "You repair documents.", repair, **extra):
                shown = safe_markdown(f"```{language}\n{fixed}\n```")
                yield f"Repairing: the first answer was {first_problem}…", shown, gr.skip()
            try:
                document = check_document(fixed, chosen, schema)
            except FormatProblem as problem:
                note = safe_markdown(f"⚠️ Still invalid after a repair: {problem}")
                yield note, gr.skip(), gr.update(value=fixed, language=language)
                return
            yield (
                f"Repaired: the first answer was {first_problem}.",
                gr.skip(),
                gr.update(value=document, language=language),
            )
        except Exception as exc:
            yield f"⚠️ {readable_error(exc)}", gr.skip(), gr.skip()

    wire_run(run, stop, sessions.bind(handle), [*sessions.inputs, text, target, schema_box], [status, raw, result])
