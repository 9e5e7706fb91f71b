"""LangChain's ChatBedrockConverse against Quarry, with a Quarry key in AWS_BEARER_TOKEN_BEDROCK and no AWS
credentials."""

from __future__ import annotations

import pytest

from tests.api.bedrock.conftest import HAIKU, Client, Gateway


def test_langchain_chat_bedrock_converse(gateway: Gateway, bedrock: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_aws import ChatBedrockConverse

    key = gateway.key(models=["anthropic.*"])
    bedrock("bedrock-runtime", key, gateway.url)  # the environment a user has: the key, no AWS credentials
    chat = ChatBedrockConverse(model=HAIKU, region_name="us-east-1", endpoint_url=gateway.url)
    assert chat.invoke("Hi LangChain").content == 'You said: "Hi LangChain"'
    streamed = "".join(str(chunk.content[0]["text"]) for chunk in chat.stream("streamed") if chunk.content)
    assert streamed == 'You said: "streamed"'
    assert gateway.usage_of(key, requests=2)["requests"] == 2
