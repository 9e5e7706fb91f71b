"""Assistant prefill: Claude 4.6 and later refuse a conversation that ends with an assistant message ("Prefilling
assistant messages returns a 400 error on Claude 4.6 models", Anthropic's migration guide; the same on Bedrock:
docs/bedrock-models-2026.md §1.4). Refused before the call, with Anthropic's own wording, so the caller learns the
rule rather than a translation of Bedrock's error."""

from __future__ import annotations

from quarry.bedrock import ConverseRequest, ModelFacts
from quarry.errors import InvalidRequest

__all__ = ["PREFILL_REFUSED", "refuse_converse_prefill", "refuse_prefill"]

PREFILL_REFUSED = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)


def refuse_prefill(facts: ModelFacts, last_role: str | None, *, param: str = "messages") -> None:
    """An InvalidRequest when the conversation ends with an assistant turn on a model that refuses prefill."""
    if last_role == "assistant" and facts.refuses_prefill:
        raise InvalidRequest(PREFILL_REFUSED, param=param, code="unsupported_value")


def refuse_converse_prefill(facts: ModelFacts, request: ConverseRequest) -> None:
    """`refuse_prefill` for a Converse conversation (system messages inside it are not turns)."""
    turns = [m["role"] for m in request.get("messages", ()) if m["role"] != "system"]
    refuse_prefill(facts, turns[-1] if turns else None)
