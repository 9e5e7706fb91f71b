"""TypedDicts for Bedrock Guardrails on bedrock-runtime: the configuration Converse takes, ApplyGuardrail's request
and answer, and the trace Converse gives (botocore's bedrock-runtime service model, 2023-09-30)."""

from __future__ import annotations

from typing import Literal, TypedDict

__all__ = [
    "ApplyGuardrailRequest",
    "ApplyGuardrailResponse",
    "GuardrailContentBlock",
    "GuardrailOutputContent",
    "GuardrailStreamConfiguration",
    "GuardrailTraceAssessment",
]

Document = dict[str, object]


class GuardrailStreamConfiguration(TypedDict, total=False):
    """Converse's GuardrailConfiguration, and ConverseStream's with `streamProcessingMode`."""

    guardrailIdentifier: str
    guardrailVersion: str
    trace: Literal["enabled", "disabled", "enabled_full"]
    streamProcessingMode: Literal["sync", "async"]


class _GuardrailText(TypedDict, total=False):
    text: str
    qualifiers: list[Literal["grounding_source", "query", "guard_content"]]


class GuardrailContentBlock(TypedDict, total=False):
    text: _GuardrailText


class ApplyGuardrailRequest(TypedDict, total=False):
    """ApplyGuardrail's body (the identifier and version travel in the path)."""

    source: Literal["INPUT", "OUTPUT"]
    content: list[GuardrailContentBlock]
    outputScope: Literal["INTERVENTIONS", "FULL"]


class GuardrailOutputContent(TypedDict, total=False):
    text: str


class ApplyGuardrailResponse(TypedDict, total=False):
    usage: Document
    action: Literal["NONE", "GUARDRAIL_INTERVENED"]
    actionReason: str
    outputs: list[GuardrailOutputContent]
    assessments: list[Document]
    guardrailCoverage: Document


class GuardrailTraceAssessment(TypedDict, total=False):
    """ConverseTrace's `guardrail`: assessments by guardrail id."""

    modelOutput: list[str]
    inputAssessment: dict[str, Document]
    outputAssessments: dict[str, list[Document]]
    actionReason: str
