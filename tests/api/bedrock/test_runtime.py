"""boto3's bedrock-runtime client against Quarry with a team key as its Bedrock API key: every operation answers
as Bedrock does (the emulator's answers, relayed untouched), and each call's usage is recorded against the key."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest

from tests.api.bedrock.conftest import ADMIN, HAIKU, HELLO, LLAMA3, SONNET_45_PROFILE, Client, Gateway

CLAUDE_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "Say hello."}],
}
ANSWER = 'You said: "Say hello."'
OPUS_48 = "us.anthropic.claude-opus-4-8"  # served by the Messages endpoint, thinking only when asked


@pytest.fixture(params=["", "/bedrock"], ids=["root", "bedrock prefix"])
def base_url(request: pytest.FixtureRequest, gateway: Gateway) -> str:
    return gateway.url + str(request.param)


def test_converse(gateway: Gateway, bedrock: Client, base_url: str) -> None:
    key = gateway.key(models=["anthropic.*"])
    answer = bedrock("bedrock-runtime", key, base_url).converse(
        modelId=HAIKU, messages=HELLO, inferenceConfig={"maxTokens": 50}
    )
    assert answer["output"]["message"] == {"role": "assistant", "content": [{"text": ANSWER}]}
    assert answer["stopReason"] == "end_turn"
    assert answer["usage"] == {"inputTokens": 7, "outputTokens": 8, "totalTokens": 15}
    row = gateway.usage_of(key, requests=1)
    assert (row["requests"], row["input_tokens"], row["output_tokens"], row["errors"]) == (1, 7, 8, 0)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    by_api = httpx.get(f"{gateway.url}/admin/usage?by=api", headers=admin).json()["data"]
    assert "bedrock.converse" in {r["api"] for r in by_api}


def test_converse_stream(gateway: Gateway, bedrock: Client, base_url: str) -> None:
    key = gateway.key()
    answer = bedrock("bedrock-runtime", key, base_url).converse_stream(modelId=SONNET_45_PROFILE, messages=HELLO)
    events = list(answer["stream"])
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    assert events[0] == {"messageStart": {"role": "assistant"}}
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == ANSWER
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    usage = events[-1]["metadata"]["usage"]
    row = gateway.usage_of(key, requests=1)
    assert (row["input_tokens"], row["output_tokens"]) == (usage["inputTokens"], usage["outputTokens"])
    assert row["output_tokens"] > 0


def test_invoke_model(gateway: Gateway, bedrock: Client, base_url: str) -> None:
    key = gateway.key(models=["anthropic.claude-3-haiku-*"])
    answer = bedrock("bedrock-runtime", key, base_url).invoke_model(modelId=HAIKU, body=json.dumps(CLAUDE_BODY))
    message = json.loads(answer["body"].read())
    assert message["type"] == "message"
    assert message["content"] == [{"type": "text", "text": ANSWER}]
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == str(message["usage"]["input_tokens"])
    row = gateway.usage_of(key, requests=1)
    assert (row["input_tokens"], row["output_tokens"]) == (
        message["usage"]["input_tokens"],
        message["usage"]["output_tokens"],
    )


def test_invoke_model_with_response_stream(gateway: Gateway, bedrock: Client, base_url: str) -> None:
    key = gateway.key()
    answer = bedrock("bedrock-runtime", key, base_url).invoke_model_with_response_stream(
        modelId=SONNET_45_PROFILE, body=json.dumps(CLAUDE_BODY)
    )
    events = [json.loads(event["chunk"]["bytes"]) for event in answer["body"]]
    assert [e["type"] for e in events][:2] == ["message_start", "content_block_start"]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == ANSWER
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    row = gateway.usage_of(key, requests=1)
    assert (row["input_tokens"], row["output_tokens"]) == (metrics["inputTokenCount"], metrics["outputTokenCount"])


def test_count_tokens(gateway: Gateway, bedrock: Client, base_url: str) -> None:
    key = gateway.key(models=["*claude-sonnet-4-5*"])
    client = bedrock("bedrock-runtime", key, base_url)
    converse = client.count_tokens(modelId=SONNET_45_PROFILE, input={"converse": {"messages": HELLO}})
    invoke = client.count_tokens(
        modelId="anthropic.claude-sonnet-4-5-20250929-v1:0", input={"invokeModel": {"body": json.dumps(CLAUDE_BODY)}}
    )
    assert converse["inputTokens"] == invoke["inputTokens"] > 0


def test_a_model_named_by_its_arn_or_a_quarry_alias(gateway: Gateway, bedrock: Client) -> None:
    key = gateway.key(models=["anthropic.*"])
    client = bedrock("bedrock-runtime", key, gateway.url)
    profile_arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{SONNET_45_PROFILE}"
    model_arn = f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
    for model in (profile_arn, model_arn, "fast"):
        answer = client.converse(modelId=model, messages=HELLO)
        assert answer["output"]["message"]["content"] == [{"text": ANSWER}], model


def test_a_percent_encoded_path_is_routed_as_bedrock_routes_it(gateway: Gateway) -> None:
    key = gateway.key()
    arn = f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
    response = httpx.post(
        f"{gateway.url}/model/{quote(arn, safe='')}/converse",
        json={"messages": HELLO},
        headers={"Authorization": f"Bearer {key.secret}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["output"]["message"]["content"] == [{"text": ANSWER}]


@pytest.mark.parametrize("stream", [False, True])
def test_the_messages_endpoint(gateway: Gateway, stream: bool) -> None:
    key = gateway.key(models=["anthropic.*"])
    body = {"model": OPUS_48, "max_tokens": 50, "messages": [{"role": "user", "content": "Say hello."}]}
    headers = {"x-api-key": key.secret, "anthropic-version": "2023-06-01"}
    response = httpx.post(f"{gateway.url}/anthropic/v1/messages", json=body | {"stream": stream}, headers=headers)
    assert response.status_code == 200, response.text
    if stream:
        assert response.headers["content-type"].startswith("text/event-stream")
        data = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
        text = "".join(e["delta"]["text"] for e in data if e["type"] == "content_block_delta")
        usage = next(e for e in data if e["type"] == "message_delta")["usage"]
    else:
        message = response.json()
        text, usage = message["content"][0]["text"], message["usage"]
    assert text == ANSWER
    row = gateway.usage_of(key, requests=1)
    assert row["output_tokens"] == usage["output_tokens"] > 0


def test_a_model_without_invoke_support_gets_bedrocks_own_error(gateway: Gateway, bedrock: Client) -> None:
    """Upstream errors go back as Bedrock gave them: status, name and message."""
    client = bedrock("bedrock-runtime", gateway.key(), gateway.url)
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.invoke_model(modelId=LLAMA3, body=json.dumps({"prompt": "hi"}))
    assert "through Converse" in raised.value.response["Error"]["Message"]
