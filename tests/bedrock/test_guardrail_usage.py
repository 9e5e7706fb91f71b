"""Guardrail text units read from both trace shapes Bedrock returns and from ApplyGuardrail's usage."""

from __future__ import annotations

from typing import Any

from quarry.bedrock import trace_units, usage_units


def assessment(**units: int) -> dict[str, Any]:
    return {"wordPolicy": {}, "invocationMetrics": {"guardrailProcessingLatency": 3, "usage": units}}


def test_apply_guardrail_usage_keeps_the_units_charged() -> None:
    usage = {"topicPolicyUnits": 2, "contentPolicyUnits": 0, "wordPolicyUnits": 1, "note": "x", "flag": True}
    assert usage_units(usage) == {"topicPolicyUnits": 2, "wordPolicyUnits": 1}
    assert usage_units(None) == {}


def test_converse_trace_adds_input_and_every_output_assessment() -> None:
    trace = {
        "inputAssessment": {"gr0": assessment(topicPolicyUnits=1, contentPolicyUnits=2)},
        "outputAssessments": {"gr0": [assessment(topicPolicyUnits=3), assessment(contentPolicyUnits=1)]},
        "actionReason": "Guardrail blocked.",
    }
    assert trace_units(trace) == {"topicPolicyUnits": 4, "contentPolicyUnits": 3}


def test_invoke_model_trace_adds_input_and_outputs() -> None:
    trace = {
        "input": {"gr0": assessment(sensitiveInformationPolicyUnits=1)},
        "outputs": [{"gr0": assessment(sensitiveInformationPolicyUnits=2, wordPolicyUnits=1)}],
    }
    assert trace_units(trace) == {"sensitiveInformationPolicyUnits": 3, "wordPolicyUnits": 1}


def test_a_trace_without_metrics_counts_nothing() -> None:
    assert trace_units({"inputAssessment": {"gr0": {"topicPolicy": {}}}, "outputs": "?"}) == {}
    assert trace_units(None) == {}
