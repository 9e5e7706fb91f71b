"""The chat's sampling fields (temperature, top_p, top_k, max_tokens): empty means the model's default, and then
nothing is sent.

They are text boxes, not `gr.Number`: Gradio's number field turns an empty value into 0 as soon as it is drawn
(opening the "Model and style" panel did it), so "unset" could not be told from a chosen 0, and a top_k of 0 was
refused by the field's own minimum before any handler ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gradio as gr

__all__ = ["FIELDS", "SamplingProblem", "build_sampling", "parameters", "shown"]

DEFAULT = "the model's default"


class SamplingProblem(ValueError):
    """A field holds something other than an allowed number (the message names the field and the range)."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    low: float
    high: float | None
    integer: bool

    def hint(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        return f"{kind} from {self.low:g}" + (f" to {self.high:g}" if self.high is not None else " up")

    def read(self, text: str | None) -> float | int | None:
        """The field's value, or None when it is empty (the model's default)."""
        text = (text or "").strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        in_range = self.low <= value and (self.high is None or value <= self.high)
        if not in_range or (self.integer and not value.is_integer()):
            raise SamplingProblem(f"{self.name} must be {self.hint()}, or empty for {DEFAULT}; it is {text!r}.")
        return int(value) if self.integer else value


FIELDS = (
    Field("temperature", 0, 1, integer=False),
    Field("top_p", 0, 1, integer=False),
    Field("top_k", 1, 500, integer=True),
    Field("max_tokens", 1, None, integer=True),
)


def build_sampling() -> list[gr.Textbox]:
    """One empty text box per field, labelled with its name and saying what empty means."""
    return [
        gr.Textbox(
            label=field.name,
            value="",
            placeholder=f"{DEFAULT} ({field.hint()})",
            max_lines=1,
            elem_id=f"chat-{field.name.replace('_', '-')}",
        )
        for field in FIELDS
    ]


def parameters(*texts: str | None, thinking: bool | str) -> dict[str, Any]:
    """The request's sampling parameters from the fields' texts: None for each left empty (so never sent); and the
    thinking as stored (off, on, or an effort level: `_thinking.stored_thinking`)."""
    values: dict[str, Any] = {field.name: field.read(text) for field, text in zip(FIELDS, texts, strict=True)}
    return values | {"thinking": thinking}


def shown(stored: dict[str, Any]) -> list[str]:
    """What the fields show for a conversation's stored parameters: empty where none was chosen."""
    return [_text(stored.get(field.name)) for field in FIELDS]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:g}"
