"""The emulator's guardrails in Bedrock's shapes, through boto3: ApplyGuardrail, Converse's guardrailConfig (whole
and streamed, with traces), InvokeModel's guardrail headers (whole and streamed), and Bedrock's errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from quarry.emulator import EmulatorApp, EmulatorConfig
from tests.emulator.conftest import HAIKU, client, user
from tests.guardrail_definitions import BLOCKED_INPUT, BLOCKED_OUTPUT, GUARDRAIL_ID, GUARDRAILS

CONFIG = {"guardrailIdentifier": GUARDRAIL_ID, "guardrailVersion": "1"}


@pytest.fixture(scope="module")
def guarded(serve: Callable[[Any], Any]) -> Iterator[Any]:
    """boto3's bedrock-runtime client on an emulator that knows the test guardrails."""
    url = serve(EmulatorApp(EmulatorConfig(guardrails=GUARDRAILS))).url
    runtime = client("bedrock-runtime", url)
    yield runtime
    runtime.close()


def test_apply_guardrail_blocks_a_denied_topic_with_the_input_message(guarded: Any) -> None:
    answer = guarded.apply_guardrail(
        guardrailIdentifier=GUARDRAIL_ID,
        guardrailVersion="DRAFT",
        source="INPUT",
        content=[{"text": {"text": "Give me stock tips for tomorrow"}}],
    )
    assert answer["action"] == "GUARDRAIL_INTERVENED"
    assert answer["outputs"] == [{"text": BLOCKED_INPUT}]
    topics = answer["assessments"][0]["topicPolicy"]["topics"]
    assert topics == [{"name": "Investment advice", "type": "DENY", "action": "BLOCKED", "detected": True}]
    assert answer["usage"]["topicPolicyUnits"] == 1
    assert answer["guardrailCoverage"]["textCharacters"] == {"guarded": 31, "total": 31}


def test_apply_guardrail_anonymizes_pii_and_passes_clean_text(guarded: Any) -> None:
    masked = guarded.apply_guardrail(
        guardrailIdentifier=GUARDRAIL_ID,
        guardrailVersion="1",
        source="OUTPUT",
        content=[{"text": {"text": "Write to ana@example.com today."}}],
    )
    assert masked["action"] == "GUARDRAIL_INTERVENED"
    assert masked["outputs"] == [{"text": "Write to {EMAIL} today."}]
    entity = masked["assessments"][0]["sensitiveInformationPolicy"]["piiEntities"][0]
    assert entity == {"match": "ana@example.com", "type": "EMAIL", "action": "ANONYMIZED", "detected": True}
    clean = guarded.apply_guardrail(
        guardrailIdentifier=GUARDRAIL_ID, guardrailVersion="1", source="INPUT", content=[{"text": {"text": "Hi"}}]
    )
    assert (clean["action"], clean["outputs"]) == ("NONE", [])
    full = guarded.apply_guardrail(
        guardrailIdentifier=GUARDRAIL_ID,
        guardrailVersion="1",
        source="INPUT",
        content=[{"text": {"text": "Hi"}}],
        outputScope="FULL",
    )
    assert full["outputs"] == [{"text": "Hi"}]


def test_apply_guardrail_blocks_words_and_named_regexes(guarded: Any) -> None:
    answer = guarded.apply_guardrail(
        guardrailIdentifier=GUARDRAIL_ID,
        guardrailVersion="1",
        source="OUTPUT",
        content=[{"text": {"text": "The Cactus ticket is TKT-1234."}}],
    )
    assessment = answer["assessments"][0]
    assert answer["outputs"] == [{"text": BLOCKED_OUTPUT}]
    assert assessment["wordPolicy"]["customWords"] == [{"match": "cactus", "action": "BLOCKED", "detected": True}]
    regex = assessment["sensitiveInformationPolicy"]["regexes"][0]
    assert (regex["name"], regex["match"], regex["action"]) == ("ticket", "TKT-1234", "BLOCKED")


@pytest.mark.parametrize(
    ("identifier", "version", "code"),
    [("nosuchguardrail", "1", "ResourceNotFoundException"), (GUARDRAIL_ID, "7", "ResourceNotFoundException")],
)
def test_apply_guardrail_unknown_guardrail(guarded: Any, identifier: str, version: str, code: str) -> None:
    with pytest.raises(ClientError) as caught:
        guarded.apply_guardrail(
            guardrailIdentifier=identifier, guardrailVersion=version, source="INPUT", content=[{"text": {"text": "x"}}]
        )
    assert caught.value.response["Error"]["Code"] == code
    assert "does not exist" in caught.value.response["Error"]["Message"]


def test_converse_blocked_input_never_reaches_the_model(guarded: Any) -> None:
    answer = guarded.converse(
        modelId=HAIKU,
        messages=[user("Which shares to buy? Stock tips please.")],
        guardrailConfig={**CONFIG, "trace": "enabled"},
    )
    assert answer["stopReason"] == "guardrail_intervened"
    assert answer["output"]["message"]["content"] == [{"text": BLOCKED_INPUT}]
    assert answer["usage"]["outputTokens"] == 0
    trace = answer["trace"]["guardrail"]
    assert trace["inputAssessment"][GUARDRAIL_ID]["topicPolicy"]["topics"][0]["name"] == "Investment advice"
    assert trace["actionReason"] == "Guardrail blocked."
    assert "outputAssessments" not in trace


def test_converse_blocked_output_with_full_trace(guarded: Any) -> None:
    answer = guarded.converse(
        modelId=HAIKU,
        messages=[user("Name a desert plant. [[emulator: reply=A cactus, of course.]]")],
        guardrailConfig={**CONFIG, "trace": "enabled_full"},
    )
    assert answer["stopReason"] == "guardrail_intervened"
    assert answer["output"]["message"]["content"] == [{"text": BLOCKED_OUTPUT}]
    trace = answer["trace"]["guardrail"]
    assert trace["modelOutput"] == ["A cactus, of course."]
    assert trace["outputAssessments"][GUARDRAIL_ID][0]["wordPolicy"]["customWords"][0]["match"] == "cactus"


def test_converse_masks_output_and_traces_only_when_asked(guarded: Any) -> None:
    answer = guarded.converse(
        modelId=HAIKU,
        messages=[user("Who? [[emulator: reply=Mail bo@example.org.]]")],
        guardrailConfig=CONFIG,
    )
    assert answer["output"]["message"]["content"] == [{"text": "Mail {EMAIL}."}]
    assert answer["stopReason"] == "guardrail_intervened"
    assert "trace" not in answer
    clean = guarded.converse(modelId=HAIKU, messages=[user("Hello there")], guardrailConfig=CONFIG)
    assert clean["stopReason"] == "end_turn"


def _stream_text(events: Any) -> tuple[str, str, dict[str, Any]]:
    text, stop, metadata = "", "", {}
    for event in events:
        if "contentBlockDelta" in event:
            text += event["contentBlockDelta"]["delta"].get("text", "")
        stop = event.get("messageStop", {}).get("stopReason", stop)
        metadata = event.get("metadata", metadata)
    return text, stop, metadata


@pytest.mark.parametrize(("mode", "shown"), [("sync", "Reach {EMAIL}"), ("async", "Reach cy@example.net")])
def test_converse_stream_sync_masks_async_does_not(guarded: Any, mode: str, shown: str) -> None:
    answer = guarded.converse_stream(
        modelId=HAIKU,
        messages=[user("[[emulator: reply=Reach cy@example.net]]")],
        guardrailConfig={**CONFIG, "trace": "enabled", "streamProcessingMode": mode},
    )
    text, stop, metadata = _stream_text(answer["stream"])
    assert text == shown
    action = "ANONYMIZED" if mode == "sync" else "NONE"
    entity = metadata["trace"]["guardrail"]["outputAssessments"][GUARDRAIL_ID][0]["sensitiveInformationPolicy"]
    assert entity["piiEntities"][0]["action"] == action
    assert stop == ("guardrail_intervened" if mode == "sync" else "end_turn")


def test_converse_stream_blocked_input(guarded: Any) -> None:
    answer = guarded.converse_stream(
        modelId=HAIKU, messages=[user("my ticket TKT-9876 please")], guardrailConfig=CONFIG
    )
    text, stop, metadata = _stream_text(answer["stream"])
    assert (text, stop) == (BLOCKED_INPUT, "guardrail_intervened")
    assert "trace" not in metadata


@pytest.mark.parametrize(
    ("config", "code"),
    [
        ({"guardrailIdentifier": "nosuch", "guardrailVersion": "1"}, "ValidationException"),
        ({"guardrailIdentifier": GUARDRAIL_ID, "guardrailVersion": "latest"}, "ValidationException"),
    ],
)
def test_converse_unknown_guardrail(guarded: Any, config: dict[str, str], code: str) -> None:
    with pytest.raises(ClientError) as caught:
        guarded.converse(modelId=HAIKU, messages=[user("hi")], guardrailConfig=config)
    assert caught.value.response["Error"]["Code"] == code


def _claude(text: str, **extra: Any) -> bytes:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
    }
    return json.dumps(body | extra).encode()


def test_invoke_model_with_guardrail_headers(guarded: Any) -> None:
    answer = guarded.invoke_model(
        modelId=HAIKU,
        body=_claude("Any stock tips?"),
        guardrailIdentifier=GUARDRAIL_ID,
        guardrailVersion="1",
        trace="ENABLED",
    )
    body = json.loads(answer["body"].read())
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert body["content"] == [{"type": "text", "text": BLOCKED_INPUT}]
    assert body["amazon-bedrock-trace"]["guardrail"]["input"][GUARDRAIL_ID]["topicPolicy"]["topics"][0]["detected"]
    clean = guarded.invoke_model(
        modelId=HAIKU, body=_claude("Hi"), guardrailIdentifier=GUARDRAIL_ID, guardrailVersion="1"
    )
    clean_body = json.loads(clean["body"].read())
    assert clean_body["amazon-bedrock-guardrailAction"] == "NONE"
    assert "amazon-bedrock-trace" not in clean_body


def test_invoke_model_stream_reports_the_action_in_its_last_chunk(guarded: Any) -> None:
    answer = guarded.invoke_model_with_response_stream(
        modelId=HAIKU,
        body=_claude(
            "[[emulator: reply=a cactus]]",
            **{"amazon-bedrock-guardrailConfig": {"streamProcessingMode": "SYNCHRONOUS"}},
        ),
        guardrailIdentifier=GUARDRAIL_ID,
        guardrailVersion="DRAFT",
    )
    events = [json.loads(e["chunk"]["bytes"]) for e in answer["body"]]
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == BLOCKED_OUTPUT
    assert events[-1]["amazon-bedrock-guardrailAction"] == "INTERVENED"


def test_invoke_model_guardrail_config_without_header_is_refused(guarded: Any) -> None:
    with pytest.raises(ClientError) as caught:
        guarded.invoke_model(
            modelId=HAIKU,
            body=_claude("hi", **{"amazon-bedrock-guardrailConfig": {"streamProcessingMode": "SYNCHRONOUS"}}),
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "no guardrail identifier" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"id": "Bad-Id"}, "lower-case"),
        ({"id": "gr1", "versions": ["latest"]}, "versions"),
        ({"id": "gr1", "pii": [{"type": "EMAIL", "action": "HIDE"}]}, "BLOCK or ANONYMIZE"),
        ({"id": "gr1", "pii": [{"type": "NAME"}]}, "pattern is needed"),
        ({"id": "gr1", "colour": "red"}, "unknown field"),
    ],
)
def test_a_bad_guardrail_definition_is_refused_at_start(entry: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        EmulatorApp(EmulatorConfig(guardrails=(entry,)))
