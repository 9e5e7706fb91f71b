"""The chat's Thinking control: off or on (a thinking budget) for models that think with a budget, or the effort
levels a model with adaptive thinking lists in `/v1/models` (sent as `reasoning_effort`; README, *Reasoning*)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gradio as gr

from quarry.ui._client import Efforts

__all__ = ["build_thinking", "shown_thinking", "stored_thinking", "thinking_choices"]

_OFF, _ON = "off", "on"


def build_thinking() -> gr.Dropdown:
    return gr.Dropdown(
        label="Thinking (shown folded)",
        choices=[_OFF, _ON],
        value=_OFF,
        allow_custom_value=True,  # a conversation's stored level shows before its model's levels load
        elem_id="chat-thinking",
    )


def stored_thinking(shown: str | None) -> bool | str:
    """What a conversation keeps: False (off), True (on: a budget) or an effort level."""
    if shown == _ON:
        return True
    return shown if shown and shown != _OFF else False


def shown_thinking(stored: bool | str) -> str:
    return stored if isinstance(stored, str) else _ON if stored else _OFF


def thinking_choices(efforts: Mapping[str, Efforts], model: str | None, current: str | None) -> Any:
    """The control for `model`: its effort levels (from the model list the page loaded, so choosing a model costs no
    call), else on/off; a choice the model lacks becomes its default."""
    levels, default = efforts.get(model or "", ([], None))  # an unknown or custom model name: plain on/off
    choices = [_OFF, *levels] if levels else [_OFF, _ON]
    if current in choices:
        return gr.update(choices=choices)
    on = default or (levels[0] if levels else _ON)
    return gr.update(choices=choices, value=_OFF if current in (None, "", _OFF) else on)
