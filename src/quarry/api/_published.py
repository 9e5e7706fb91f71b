"""What an endpoint answers, declared for the published OpenAPI document: the success status, the body's model, and
whether `stream: true` turns the body into server-sent events. Like `json_body`, this only says what to publish;
the endpoint writes its own answers (with orjson, not through the model), and tests hold the two together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["Answer", "answer_of", "answers"]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
# Kept on the endpoint function itself: no registry to fill at import time.
_ATTRIBUTE = "__quarry_answer__"


@dataclass(frozen=True, slots=True)
class Answer:
    model: type[BaseModel]
    status: int = 200
    streams: bool = False  # with `stream: true` the body is text/event-stream, one JSON document per event


def answers(model: type[BaseModel], *, status: int = 200, streams: bool = False) -> Callable[[Endpoint], Endpoint]:
    """Declares the body an endpoint answers with on success, for the published OpenAPI document."""

    def declare(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _ATTRIBUTE, Answer(model, status, streams))
        return endpoint

    return declare


def answer_of(endpoint: Callable[..., Any]) -> Answer | None:
    """What `endpoint` declared with `answers`, if anything."""
    answer = getattr(endpoint, _ATTRIBUTE, None)
    return answer if isinstance(answer, Answer) else None
