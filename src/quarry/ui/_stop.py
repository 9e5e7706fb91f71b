"""Stop buttons that show only while there is something to stop: hidden at rest, shown when a run starts, hidden
again when it ends or is stopped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

__all__ = ["run_with_stop", "stop_button"]


def stop_button(elem_id: str) -> gr.Button:
    """A Stop button, hidden until a run starts (a red button that can do nothing only confuses)."""
    return gr.Button("Stop", variant="stop", size="sm", scale=0, min_width=100, visible=False, elem_id=elem_id)


def _shown() -> Any:
    return gr.update(visible=True)


def _hidden() -> Any:
    return gr.update(visible=False)


def run_with_stop(
    listen: Callable[..., Any],
    stop: gr.Button,
    handler: Callable[..., Any],
    inputs: list[Any],
    outputs: list[Any],
    trigger_mode: str | None = None,
) -> Any:
    """`listen(handler, inputs, outputs)` (a trigger such as `button.click`), with `stop` shown while it runs and
    cancelling it (which closes its HTTP stream); the run's event, for any other canceller. `trigger_mode` is the
    trigger's (the first step of the chain is what the trigger starts)."""
    # Shown first, then the run: chained, so the button cannot be hidden by a run that ended before it showed.
    shown = listen(_shown, None, stop, queue=False, show_progress="hidden", trigger_mode=trigger_mode)
    run = shown.then(handler, inputs, outputs)
    run.then(_hidden, None, stop, queue=False, show_progress="hidden")
    stop.click(_hidden, None, stop, cancels=[run], queue=False, show_progress="hidden")
    return run
