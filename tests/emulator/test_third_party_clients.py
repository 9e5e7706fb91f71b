"""Frameworks built on Bedrock work against the emulator unchanged: LangChain's ChatBedrockConverse and LiteLLM."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import CREDENTIALS, HAIKU


def test_langchain_chat_bedrock_converse(emulator_url: str) -> None:
    from langchain_aws import ChatBedrockConverse

    chat = ChatBedrockConverse(
        model=HAIKU,
        region_name="us-east-1",
        endpoint_url=emulator_url,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],  # type: ignore[arg-type]
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],  # type: ignore[arg-type]
    )
    assert chat.invoke("Hi LangChain").content == 'You said: "Hi LangChain"'
    streamed = "".join(str(chunk.content[0]["text"]) for chunk in chat.stream("streamed") if chunk.content)
    assert streamed == 'You said: "streamed"'


def test_litellm_bedrock_converse(emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price list at import
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    import litellm

    model = f"bedrock/converse/{HAIKU}"
    # LiteLLM signs with botocore but sends with its own HTTP client, so it takes the endpoint as its own option.
    endpoint = {"aws_bedrock_runtime_endpoint": emulator_url}
    reply = litellm.completion(model=model, messages=[{"role": "user", "content": "hi LiteLLM"}], **endpoint)
    assert reply.choices[0].message.content == 'You said: "hi LiteLLM"'
    assert reply.usage.prompt_tokens > 0
    stream = litellm.completion(
        model=model, messages=[{"role": "user", "content": "streamed"}], stream=True, **endpoint
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream) == 'You said: "streamed"'
