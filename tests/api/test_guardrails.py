"""Guardrail interventions through the gateway in every dialect, over the in-process emulator's guardrails: OpenAI's
`content_filter` (chat, whole and streamed), Anthropic's `refusal` (Converse, InvokeModel and Messages-endpoint
paths), Bedrock's own shapes through boto3, knowledge-base answers, and a key's own guardrail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarry.server import create_app
from quarry.settings import (
    EmulatorSettings,
    GuardrailSettings,
    GuardrailsSettings,
    ModelSettings,
    Settings,
    UISettings,
)
from tests.conftest import SDKs, bedrock_with_key
from tests.guardrail_definitions import BLOCKED_INPUT, BLOCKED_OUTPUT, GUARDRAIL_ID, GUARDRAILS, STRICT_ID

KEY = "sk-guardrails-admin"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"  # Claude on InvokeModel
LLAMA3 = "meta.llama3-8b-instruct-v1:0"  # Converse for every dialect
OPUS_55 = "claude-opus-5-5"  # Claude on Bedrock's Messages endpoint
UNGUARDED = "open-haiku"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guardrails")


@pytest.fixture(scope="module")
def gateway(serve: Any, data_dir: Path) -> str:
    """Quarry over the in-process emulator, which knows the test guardrails; every model guarded but one alias."""
    guardrail = GuardrailSettings(identifier=GUARDRAIL_ID, version="1", trace="enabled")
    settings = Settings(
        backend="emulator",
        api_key=KEY,  # type: ignore[arg-type]
        keepalive_s=0.2,
        key_cache_ttl_s=0.1,
        data_dir=data_dir,
        emulator=EmulatorSettings(guardrails=list(GUARDRAILS)),
        ui=UISettings(enabled=False),  # not under test here
        models=ModelSettings(aliases={UNGUARDED: HAIKU}),
        guardrails=GuardrailsSettings(
            default=guardrail,
            models={UNGUARDED: GuardrailSettings(identifier=STRICT_ID)},  # a model's own guardrail wins
        ),
    )
    url: str = serve(create_app(settings), lifespan="on").url
    return url


@pytest.fixture(scope="module")
def admin(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        yield client


def reply(text: str) -> str:
    """A prompt the emulator answers with exactly `text` (its directive is not judged as input)."""
    return f"Answer please. [[emulator: reply={text}]]"


# OpenAI


def test_openai_chat_input_intervention_is_content_filter(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    completion = client.chat.completions.create(
        model=LLAMA3, messages=[{"role": "user", "content": "Any stock tips for me?"}]
    )
    choice = completion.choices[0]
    assert (choice.finish_reason, choice.message.content) == ("content_filter", BLOCKED_INPUT)


def test_openai_chat_stream_output_intervention(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    chunks = list(
        client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": reply("A cactus!")}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert (text, finish) == (BLOCKED_OUTPUT, ["content_filter"])


def test_openai_chat_shows_anonymized_output(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    completion = client.chat.completions.create(
        model=LLAMA3, messages=[{"role": "user", "content": reply("Write to dee@example.com.")}]
    )
    assert completion.choices[0].message.content == "Write to {EMAIL}."
    assert completion.choices[0].finish_reason == "content_filter"


@pytest.mark.parametrize("stream", [False, True])
def test_openai_responses_intervention_is_an_incomplete_content_filter(sdk: SDKs, gateway: str, stream: bool) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    if stream:
        events = list(client.responses.create(model=LLAMA3, input="Any stock tips?", store=False, stream=True))
        response = events[-1].response
    else:
        response = client.responses.create(model=LLAMA3, input="Any stock tips?", store=False)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "content_filter"
    assert response.output_text == BLOCKED_INPUT


def test_a_models_own_guardrail_wins_over_the_default(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    refused = client.chat.completions.create(model=UNGUARDED, messages=[{"role": "user", "content": "hello!"}])
    assert refused.choices[0].message.content == "No greetings here."
    allowed = client.chat.completions.create(model=UNGUARDED, messages=[{"role": "user", "content": "stock tips"}])
    assert allowed.choices[0].finish_reason == "stop"


# Anthropic


@pytest.mark.parametrize("model", [LLAMA3, HAIKU, OPUS_55], ids=["converse", "invoke", "messages-endpoint"])
def test_anthropic_input_intervention_is_a_refusal(sdk: SDKs, gateway: str, model: str) -> None:
    client = sdk.anthropic(gateway, KEY)
    message = client.messages.create(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "My ticket is TKT-1234."}]
    )
    assert message.stop_reason == "refusal"
    assert [block.text for block in message.content] == [BLOCKED_INPUT]
    assert message.model == model


@pytest.mark.parametrize("model", [LLAMA3, HAIKU, OPUS_55], ids=["converse", "invoke", "messages-endpoint"])
def test_anthropic_stream_output_intervention_is_a_refusal(sdk: SDKs, gateway: str, model: str) -> None:
    client = sdk.anthropic(gateway, KEY)
    with client.messages.stream(
        model=model, max_tokens=200, messages=[{"role": "user", "content": reply("cactus time")}]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "refusal"
    assert "".join(b.text for b in final.content if b.type == "text") == BLOCKED_OUTPUT


@pytest.mark.parametrize("model", [HAIKU, OPUS_55], ids=["invoke", "messages-endpoint"])
def test_anthropic_whole_answer_is_masked_by_apply_guardrail(sdk: SDKs, gateway: str, model: str) -> None:
    client = sdk.anthropic(gateway, KEY)
    message = client.messages.create(
        model=model, max_tokens=200, messages=[{"role": "user", "content": reply("Mail eve@example.com")}]
    )
    assert [block.text for block in message.content] == ["Mail {EMAIL}"]
    assert message.stop_reason == "refusal"


def test_anthropic_async_stream_passes_text_and_ends_in_a_refusal(sdk: SDKs, gateway: str, admin: httpx.Client) -> None:
    made = admin.post(
        "/admin/keys",
        json={"name": "async", "guardrail": {"identifier": GUARDRAIL_ID, "stream_processing_mode": "async"}},
    )
    assert made.status_code == 201, made.text
    assert made.json()["guardrail"]["stream_processing_mode"] == "async"
    client = sdk.anthropic(gateway, made.json()["key"])
    with client.messages.stream(
        model=OPUS_55, max_tokens=200, messages=[{"role": "user", "content": reply("a cactus")}]
    ) as stream:
        final = stream.get_final_message()
    texts = [b.text for b in final.content if b.type == "text"]
    assert texts == ["a cactus", BLOCKED_OUTPUT]  # sent at once, then the guardrail's word on it
    assert final.stop_reason == "refusal"


# A key's own guardrail


def test_a_keys_guardrail_wins_and_can_be_removed(sdk: SDKs, gateway: str, admin: httpx.Client) -> None:
    made = admin.post("/admin/keys", json={"name": "strict", "guardrail": {"identifier": STRICT_ID}}).json()
    client = sdk.openai(f"{gateway}/v1", made["key"])
    refused = client.chat.completions.create(model=LLAMA3, messages=[{"role": "user", "content": "Hello there"}])
    assert refused.choices[0].message.content == "No greetings here."
    listed = {key["id"]: key for key in admin.get("/admin/keys").json()["data"]}
    assert listed[made["id"]]["guardrail"]["identifier"] == STRICT_ID
    cleared = admin.put(f"/admin/keys/{made['id']}/guardrail", json={"guardrail": None})
    assert cleared.json()["guardrail"] is None
    bad = admin.put(f"/admin/keys/{made['id']}/guardrail", json={"guardrail": {"identifier": "Not An Id"}})
    assert bad.status_code == 400
    assert "identifier" in bad.json()["error"]["message"]
    # The admin API's change reaches this server's cached lookup at once.
    allowed = client.chat.completions.create(model=LLAMA3, messages=[{"role": "user", "content": "Hello there"}])
    assert allowed.choices[0].finish_reason == "stop"


# Bedrock's own routes


@pytest.fixture
def bedrock_runtime(gateway: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """boto3's bedrock-runtime on Quarry with only a Quarry key (AWS_BEARER_TOKEN_BEDROCK)."""
    client = bedrock_with_key(gateway, KEY, monkeypatch, tmp_path)
    yield client
    client.close()


def test_bedrock_converse_gets_the_guardrail_and_bedrocks_shapes(bedrock_runtime: Any) -> None:
    answer = bedrock_runtime.converse(
        modelId=LLAMA3, messages=[{"role": "user", "content": [{"text": "which shares to buy?"}]}]
    )
    assert answer["stopReason"] == "guardrail_intervened"
    assert answer["output"]["message"]["content"] == [{"text": BLOCKED_INPUT}]
    assert GUARDRAIL_ID in answer["trace"]["guardrail"]["inputAssessment"]


def test_bedrock_converse_charges_the_units_of_its_trace(bedrock_runtime: Any) -> None:
    """A blocked input is charged its judging and no model call (Bedrock's rule, guardrails-how.html)."""
    answer = bedrock_runtime.converse(
        modelId=LLAMA3, messages=[{"role": "user", "content": [{"text": "which shares to buy?"}]}]
    )
    assert answer["stopReason"] == "guardrail_intervened"
    charged = answer["ResponseMetadata"]["HTTPHeaders"]["x-quarry-cost-usd"]
    assert float(charged) == pytest.approx(ONE_JUDGING_USD)  # the input only: no answer was judged


def test_bedrock_converse_stream_and_the_callers_own_guardrail(bedrock_runtime: Any) -> None:
    streamed = bedrock_runtime.converse_stream(
        modelId=LLAMA3, messages=[{"role": "user", "content": [{"text": reply("cactus")}]}]
    )
    stops = [e["messageStop"]["stopReason"] for e in streamed["stream"] if "messageStop" in e]
    assert stops == ["guardrail_intervened"]
    own = bedrock_runtime.converse(
        modelId=LLAMA3,
        messages=[{"role": "user", "content": [{"text": "stock tips and hello"}]}],
        guardrailConfig={"guardrailIdentifier": STRICT_ID, "guardrailVersion": "DRAFT"},
    )
    assert own["output"]["message"]["content"] == [{"text": "No greetings here."}]  # the caller's, not Quarry's


def test_bedrock_invoke_model_gets_the_guardrail_headers(bedrock_runtime: Any) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "a TKT-4321"}],
    }
    answer = json.loads(bedrock_runtime.invoke_model(modelId=HAIKU, body=json.dumps(body))["body"].read())
    assert answer["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert answer["content"] == [{"type": "text", "text": BLOCKED_INPUT}]
    assert GUARDRAIL_ID in answer["amazon-bedrock-trace"]["guardrail"]["input"]


@pytest.mark.parametrize("stream", [False, True])
def test_bedrock_messages_route_refuses_a_guarded_input(sdk: SDKs, gateway: str, stream: bool) -> None:
    client = sdk.anthropic(f"{gateway}/anthropic", KEY)  # Bedrock's own Messages path, as Quarry serves it
    asked = {"model": OPUS_55, "max_tokens": 100, "messages": [{"role": "user", "content": "stock tips?"}]}
    if stream:
        with client.messages.stream(**asked) as streamed:
            message = streamed.get_final_message()
    else:
        message = client.messages.create(**asked)
    assert (message.stop_reason, [b.text for b in message.content]) == ("refusal", [BLOCKED_INPUT])


def test_bedrock_messages_route_masks_a_whole_answer(sdk: SDKs, gateway: str) -> None:
    client = sdk.anthropic(f"{gateway}/anthropic", KEY)
    message = client.messages.create(
        model=OPUS_55, max_tokens=100, messages=[{"role": "user", "content": reply("at fay@example.com")}]
    )
    assert [b.text for b in message.content if b.type == "text"] == ["at {EMAIL}"]
    assert message.stop_reason == "refusal"


def test_bedrock_messages_route_judges_a_streamed_answer(sdk: SDKs, gateway: str) -> None:
    """`sync` (the default here): the events are held until the text is judged, then replaced by the refusal."""
    client = sdk.anthropic(f"{gateway}/anthropic", KEY)
    asked = {"model": OPUS_55, "max_tokens": 100, "messages": [{"role": "user", "content": reply("cactus time")}]}
    with client.messages.stream(**asked) as streamed:
        texts = list(streamed.text_stream)
        message = streamed.get_final_message()
    assert "cactus" not in "".join(texts)  # nothing of the judged text reached the caller
    assert (message.stop_reason, [b.text for b in message.content]) == ("refusal", [BLOCKED_OUTPUT])


def test_bedrock_messages_route_async_stream_ends_in_a_refusal(admin: httpx.Client, gateway: str) -> None:
    """`async`: the text goes out as it comes; the end is held, and a refusal follows what was judged."""
    made = admin.post(
        "/admin/keys",
        json={"name": "async-bedrock", "guardrail": {"identifier": GUARDRAIL_ID, "stream_processing_mode": "async"}},
    )
    assert made.status_code == 201, made.text
    asked = {
        "model": OPUS_55,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": reply("a cactus")}],
    }
    headers = {"Authorization": f"Bearer {made.json()['key']}", "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", f"{gateway}/anthropic/v1/messages", json=asked, headers=headers, timeout=30) as sent:
        assert sent.status_code == 200, sent.read()
        events = [json.loads(line[5:]) for line in sent.iter_lines() if line.startswith("data:")]
    deltas = [e["delta"]["text"] for e in events if e.get("delta", {}).get("type") == "text_delta"]
    assert deltas[-1] == BLOCKED_OUTPUT
    assert "".join(deltas[:-1]) == "a cactus"
    ends = [e for e in events if e["type"] == "message_delta"]
    assert [e["delta"]["stop_reason"] for e in ends] == ["refusal"]  # Bedrock's own end was held back
    assert ends[0]["usage"]["output_tokens"] > 0  # and its usage carried over
    assert events[-1]["type"] == "message_stop"


def test_bedrock_messages_route_passes_an_allowed_stream(sdk: SDKs, gateway: str) -> None:
    client = sdk.anthropic(f"{gateway}/anthropic", KEY)
    asked = {"model": OPUS_55, "max_tokens": 100, "messages": [{"role": "user", "content": reply("sunny days")}]}
    with client.messages.stream(**asked) as streamed:
        message = streamed.get_final_message()
    texts = [b.text for b in message.content if b.type == "text"]
    assert (message.stop_reason, texts) == ("end_turn", ["sunny days"])
    assert message.usage.output_tokens > 0


# Cost: the guardrail's text units are charged beside the model's tokens

# The test guardrail judges with a denied topic ($0.15 per 1,000 units), a word list (free), an EMAIL filter ($0.10)
# and a regular expression (free): one unit each for a text under 1,000 characters (the emulator's rule, as Bedrock's).
ONE_JUDGING_USD = (0.15 + 0.10) / 1000


def test_a_guardrail_adds_its_units_to_the_cost(sdk: SDKs, gateway: str) -> None:
    """The same call twice on Claude (InvokeModel, judged by ApplyGuardrail before and after): under the test
    guardrail, and under the strict one whose only policy, a word list, is free."""
    client = sdk.anthropic(gateway, KEY)
    asked = {"max_tokens": 100, "messages": [{"role": "user", "content": reply("sunny days")}]}
    guarded = client.messages.with_raw_response.create(model=HAIKU, **asked)
    free = client.messages.with_raw_response.create(model=UNGUARDED, **asked)
    assert guarded.parse().usage.output_tokens == free.parse().usage.output_tokens > 0
    difference = float(guarded.headers["x-quarry-cost-usd"]) - float(free.headers["x-quarry-cost-usd"])
    assert difference == pytest.approx(2 * ONE_JUDGING_USD)  # the input judged, then the answer


def test_units_in_a_converse_trace_are_charged(sdk: SDKs, gateway: str) -> None:
    """Llama has no price in the shipped table: what the call cost is the guardrail's judging, read from the trace
    (the fixture's guardrail asks for it)."""
    client = sdk.openai(f"{gateway}/v1", KEY)
    answer = client.chat.completions.with_raw_response.create(
        model=LLAMA3, messages=[{"role": "user", "content": reply("sunny days")}]
    )
    assert answer.parse().choices[0].message.content == "sunny days"
    assert float(answer.headers["x-quarry-cost-usd"]) == pytest.approx(2 * ONE_JUDGING_USD)


# Knowledge bases


def test_a_knowledge_base_answer_is_guarded(admin: httpx.Client) -> None:
    created = admin.post("/v1/knowledge-bases", json={"name": "deploys"})
    assert created.status_code == 201, created.text
    files = [("file", ("deploy.md", b"# Deploys\n\nProduction deploys run every weekday at noon.\n"))]
    assert admin.post("/v1/knowledge-bases/deploys/documents", files=files).status_code == 200
    question = {"question": "When do production deploys run? And any stock tips?"}
    answer = admin.post("/v1/knowledge-bases/deploys/answer", json=question).json()
    assert (answer["answer"], answer["stop_reason"]) == (BLOCKED_INPUT, "guardrail_intervened")
    chat = admin.post(
        "/v1/chat/completions",
        json={"model": "kb:deploys", "messages": [{"role": "user", "content": question["question"]}]},
    ).json()
    assert chat["choices"][0]["message"]["content"] == BLOCKED_INPUT
    assert chat["choices"][0]["finish_reason"] == "content_filter"
