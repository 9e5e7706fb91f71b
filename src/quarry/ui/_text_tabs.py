"""Translate, Rewrite and Summary: one input text, one streamed output, long inputs split and combined."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr

from quarry.ui._errors import readable_error
from quarry.ui._long import stream_long
from quarry.ui._prompts import (
    LANGUAGES,
    REWRITE_STYLES,
    SUMMARY_FORMATS,
    SUMMARY_LENGTHS,
    rewrite_prompt,
    summary_combine_prompt,
    summary_prompt,
    translate_prompt,
)
from quarry.ui._sanitize import safe_markdown
from quarry.ui._session import Sessions
from quarry.ui._stop import run_with_stop, stop_button
from quarry.ui._toolbox import Session, Toolbox

__all__ = ["build_rewrite", "build_summary", "build_translate", "wire_run"]

Prompts = Callable[..., tuple[str, str | None]]  # options → (system prompt, combining prompt or None)


def wire_run(
    button: gr.Button,
    stop: gr.Button,
    handler: Callable[..., AsyncIterator[Any]],
    inputs: list[Any],
    outputs: list[Any],
) -> None:
    """Run on click, with Stop shown while it runs, to cancel it (which closes its HTTP stream)."""
    run_with_stop(button.click, stop, handler, inputs, outputs)


def _text_tab(toolbox: Toolbox, sessions: Sessions, name: str, options: list[Any], prompts: Prompts) -> None:
    text = gr.Textbox(label="Text", lines=8, elem_id=f"{name}-input")
    with gr.Row():
        run = gr.Button("Run", variant="primary", elem_id=f"{name}-run")
        stop = stop_button(f"{name}-stop")
    status = gr.Markdown("", elem_id=f"{name}-status")
    output = gr.Markdown("", elem_id=f"{name}-output", buttons=["copy"])

    async def handle(session_value: Session, source: str, *chosen: Any) -> AsyncIterator[tuple[str, Any]]:
        if not source.strip():
            yield "Enter some text first.", gr.skip()
            return
        system, combine = prompts(*chosen)
        client = toolbox.client(session_value)
        try:
            async for progress, answer in stream_long(
                client,
                session_value.model,
                system,
                source,
                max_tokens=toolbox.config.split_tokens,
                combine_system=combine,
            ):
                yield progress, safe_markdown(answer)
        except Exception as exc:
            yield f"⚠️ {readable_error(exc)}", gr.skip()

    wire_run(run, stop, sessions.bind(handle), [*sessions.inputs, text, *options], [status, output])


def build_translate(toolbox: Toolbox, sessions: Sessions) -> None:
    with gr.Row():
        target = gr.Dropdown(LANGUAGES, value="English", label="Into", elem_id="translate-target")
        other = gr.Textbox(label="Or any other language", placeholder="e.g. Italian", elem_id="translate-other")
    gr.Markdown("The source language is detected.")

    def prompts(chosen: str, typed: str) -> tuple[str, None]:
        return translate_prompt(typed.strip() or chosen), None

    _text_tab(toolbox, sessions, "translate", [target, other], prompts)


def build_rewrite(toolbox: Toolbox, sessions: Sessions) -> None:
    style = gr.Dropdown(REWRITE_STYLES, value="concise", label="Style", allow_custom_value=True)

    def prompts(chosen: str) -> tuple[str, None]:
        return rewrite_prompt(chosen), None

    _text_tab(toolbox, sessions, "rewrite", [style], prompts)


def build_summary(toolbox: Toolbox, sessions: Sessions) -> None:
    with gr.Row():
        length = gr.Radio(SUMMARY_LENGTHS, value="medium", label="Length")
        form = gr.Radio(SUMMARY_FORMATS, value="paragraph", label="Format")

    def prompts(chosen_length: str, chosen_form: str) -> tuple[str, str]:
        return summary_prompt(chosen_length, chosen_form), summary_combine_prompt(chosen_length, chosen_form)

    _text_tab(toolbox, sessions, "summary", [length, form], prompts)
