"""Bedrock guardrails on every route: the configuration Converse takes, and ApplyGuardrail's verdict for the calls
whose upstream takes none (Bedrock's Messages endpoint has no guardrail parameter; docs/guardrails.md).

An intervention ends the answer with Converse's `guardrail_intervened`, which `stop_reason` maps (once, in
`_usage`) to Anthropic's `refusal`, and the OpenAI dialects to `content_filter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from quarry.bedrock import BedrockRuntime, ConverseRequest, GuardrailStreamConfiguration
from quarry.settings import GuardrailSettings

__all__ = ["INTERVENED", "GuardrailVerdict", "apply_guardrail", "guard_converse", "guardrail_config"]

INTERVENED = "guardrail_intervened"  # Converse's StopReason for a guardrail's intervention


def guardrail_config(guardrail: GuardrailSettings, *, stream: bool) -> GuardrailStreamConfiguration:
    """Converse's GuardrailConfiguration (ConverseStream's GuardrailStreamConfiguration when `stream`)."""
    config: GuardrailStreamConfiguration = {
        "guardrailIdentifier": guardrail.identifier,
        "guardrailVersion": guardrail.version,
        "trace": guardrail.trace,
    }
    if stream:  # Converse refuses the member; only ConverseStream takes it (botocore's service model)
        config["streamProcessingMode"] = guardrail.stream_processing_mode
    return config


def guard_converse(request: ConverseRequest, guardrail: GuardrailSettings | None, *, stream: bool) -> None:
    """Add the guardrail to a Converse request, unless the request names one of its own."""
    if guardrail is not None and "guardrailConfig" not in request:
        request["guardrailConfig"] = guardrail_config(guardrail, stream=stream)


@dataclass(frozen=True, slots=True)
class GuardrailVerdict:
    """ApplyGuardrail's answer, as a dialect needs it: whether it intervened and the text that takes the place of
    what it judged (the guardrail's blocked message, or the text with sensitive information masked)."""

    intervened: bool
    text: str = ""
    reason: str = ""


async def apply_guardrail(
    runtime: BedrockRuntime,
    guardrail: GuardrailSettings,
    source: Literal["INPUT", "OUTPUT"],
    texts: Sequence[str],
) -> GuardrailVerdict:
    """The guardrail's verdict on `texts` as the call's input or output."""
    texts = [text for text in texts if text]
    if not texts:
        return GuardrailVerdict(False)
    answer = await runtime.apply_guardrail(
        guardrail.identifier,
        guardrail.version,
        {"source": source, "content": [{"text": {"text": text}} for text in texts]},
    )
    if answer.get("action") != "GUARDRAIL_INTERVENED":
        return GuardrailVerdict(False)
    shown = "\n".join(output.get("text", "") for output in answer.get("outputs", []))
    return GuardrailVerdict(True, shown, answer.get("actionReason", ""))
