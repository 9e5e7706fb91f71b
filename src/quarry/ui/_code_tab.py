"""The Code tab: an architect designs, then a developer writes, checks and explains; both stages streamed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from quarry.ui._errors import readable_error
from quarry.ui._long import stream_answer
from quarry.ui._prompts import CODE_LANGUAGES, architect_prompt, developer_prompt
from quarry.ui._sanitize import safe_markdown
from quarry.ui._session import Sessions
from quarry.ui._stop import stop_button
from quarry.ui._text_tabs import wire_run
from quarry.ui._toolbox import Session, Toolbox

__all__ = ["build_code", "extract_code"]

_FENCE = re.compile(r"```[\w+#.-]*\n(.*?)```", re.DOTALL)
# gr.Code highlights these; the others are shown plain (still with a copy button).
_HIGHLIGHT = {
    "Python": "python",
    "Shell": "shell",
    "HTML": "html",
    "JavaScript": "javascript",
    "TypeScript": "typescript",
    "YAML": "yaml",
    "SQL": "sql",
}


def extract_code(answer: str) -> str:
    """The largest fenced block of an answer, or the whole answer when it has none."""
    blocks = _FENCE.findall(answer)
    return max(blocks, key=len).strip() if blocks else answer.strip()


def build_code(toolbox: Toolbox, sessions: Sessions) -> None:
    with gr.Row():
        language = gr.Dropdown(CODE_LANGUAGES, value="Python", label="Language", elem_id="code-language")
    task = gr.Textbox(label="Task", lines=4, elem_id="code-input")
    with gr.Row():
        run = gr.Button("Design and write", variant="primary", elem_id="code-run")
        stop = stop_button("code-stop")
    status = gr.Markdown("", elem_id="code-status")
    with gr.Row():
        with gr.Column():
            gr.Markdown("### 1. Architect")
            design = gr.Markdown("", elem_id="code-design")
        with gr.Column():
            gr.Markdown("### 2. Developer")
            development = gr.Markdown("", elem_id="code-developer")
    code = gr.Code(label="Code", interactive=False, elem_id="code-final")

    async def handle(session_value: Session, chosen: str, text: str) -> AsyncIterator[tuple[Any, ...]]:
        if not text.strip():
            yield "Describe the task first.", gr.skip(), gr.skip(), gr.skip()
            return
        client = toolbox.client(session_value)
        try:
            plan = ""
            async for plan in stream_answer(client, session_value.model, architect_prompt(chosen), text):
                yield "Architect designing…", safe_markdown(plan), "", gr.update(value="")
            brief = f"Task:\n{text}\n\nDesign:\n{plan}"
            answer = ""
            async for answer in stream_answer(client, session_value.model, developer_prompt(chosen), brief):
                yield "Developer writing…", gr.skip(), safe_markdown(answer), gr.skip()
            highlighted = gr.update(value=extract_code(answer), language=_HIGHLIGHT.get(chosen))
            yield "Done.", gr.skip(), gr.skip(), highlighted
        except Exception as exc:
            yield f"⚠️ {readable_error(exc)}", gr.skip(), gr.skip(), gr.skip()

    wire_run(run, stop, sessions.bind(handle), [*sessions.inputs, language, task], [status, design, development, code])
