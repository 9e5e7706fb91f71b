"""The Vision tab: several images and one instruction, the answer streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from quarry.ui._errors import readable_error
from quarry.ui._long import stream_answer
from quarry.ui._media import image_part
from quarry.ui._sanitize import safe_markdown
from quarry.ui._session import Sessions
from quarry.ui._stop import stop_button
from quarry.ui._text_tabs import wire_run
from quarry.ui._toolbox import Session, Toolbox

__all__ = ["build_vision"]

_SYSTEM = (
    "You are a careful visual inspector. Look at every image, in order; refer to them as image 1, image 2, …. "
    "Answer the instruction precisely; when comparing against a reference, list each difference you see."
)


def build_vision(toolbox: Toolbox, sessions: Sessions) -> None:
    images = gr.File(
        label="Images (JPEG, PNG, GIF, WebP)", file_count="multiple", file_types=["image"], elem_id="vision-images"
    )
    instruction = gr.Textbox(
        label="Instruction",
        lines=3,
        value="Image 1 is the reference board. Inspect the others for defects and list them.",
        elem_id="vision-input",
    )
    with gr.Row():
        run = gr.Button("Run", variant="primary", elem_id="vision-run")
        stop = stop_button("vision-stop")
    status = gr.Markdown("", elem_id="vision-status")
    output = gr.Markdown("", elem_id="vision-output", buttons=["copy"])

    async def handle(session_value: Session, files: list[Any] | None, text: str) -> AsyncIterator[tuple[str, Any]]:
        if not files:
            yield "Add at least one image.", gr.skip()
            return
        try:
            parts = [image_part(file if isinstance(file, str) else file.name) for file in files]
        except ValueError as exc:
            yield f"⚠️ {exc}", gr.skip()
            return
        content = [{"type": "text", "text": text.strip() or "Describe these images."}, *parts]
        try:
            async for answer in stream_answer(toolbox.client(session_value), session_value.model, _SYSTEM, content):
                yield f"Looking at {len(parts)} image(s)…", safe_markdown(answer)
            yield "Done.", gr.skip()
        except Exception as exc:
            yield f"⚠️ {readable_error(exc)}", gr.skip()

    wire_run(run, stop, sessions.bind(handle), [*sessions.inputs, images, instruction], [status, output])
