"""The text units a Bedrock guardrail was billed for, read from where Bedrock reports them: ApplyGuardrail's `usage`,
and the guardrail trace of Converse, ConverseStream's `metadata` event and InvokeModel's `amazon-bedrock-trace`
(each assessment's `invocationMetrics.usage`, present only when the call asked for the trace).

The unit names are GuardrailUsage's members in botocore's bedrock-runtime service model (`topicPolicyUnits`,
`contentPolicyUnits`, `sensitiveInformationPolicyUnits`, …); a text unit is up to 1,000 characters of text judged
by one policy (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-how.html, "Amazon Bedrock pricing").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["trace_units", "usage_units"]


def usage_units(usage: object) -> dict[str, int]:
    """A GuardrailUsage's counts (ApplyGuardrail's `usage`, an assessment's metrics), the non-zero ones."""
    if not isinstance(usage, Mapping):
        return {}
    return {
        name: count
        for name, count in usage.items()
        if isinstance(count, int) and not isinstance(count, bool) and count > 0
    }


def _assessments(trace: Mapping[str, Any]) -> Iterator[object]:
    """Every assessment of a trace, in either shape: Converse's (`inputAssessment`: guardrail id → assessment,
    `outputAssessments`: id → list) or InvokeModel's (`input`: id → assessment, `outputs`: list of id → assessment;
    docs/guardrails.md lists the sources)."""
    for inputs in (trace.get("inputAssessment"), trace.get("input")):
        if isinstance(inputs, Mapping):
            yield from inputs.values()
    outputs = trace.get("outputAssessments")
    if isinstance(outputs, Mapping):
        for assessed in outputs.values():
            yield from assessed if isinstance(assessed, list) else ()
    for output in trace.get("outputs") or ():
        if isinstance(output, Mapping):
            yield from output.values()


def trace_units(trace: object) -> dict[str, int]:
    """The units of every assessment in a guardrail trace (a Converse `trace.guardrail`, InvokeModel's
    `amazon-bedrock-trace.guardrail`)."""
    units: dict[str, int] = {}
    if isinstance(trace, Mapping):
        for assessment in _assessments(trace):
            metrics = assessment.get("invocationMetrics") if isinstance(assessment, Mapping) else None
            for name, count in usage_units(metrics.get("usage") if isinstance(metrics, Mapping) else None).items():
                units[name] = units.get(name, 0) + count
    return units
