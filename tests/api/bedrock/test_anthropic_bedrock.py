"""The anthropic SDK's `AnthropicBedrock` client with a Quarry key as its Bedrock API key (`api_key`, which it sends
as `Authorization: Bearer`) and Quarry as its base URL: InvokeModel and InvokeModelWithResponseStream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from anthropic import AnthropicBedrock, PermissionDeniedError

from tests.api.bedrock.conftest import HAIKU, SONNET_45_PROFILE, Gateway

HELLO = [{"role": "user", "content": "Say hello."}]
# This SDK puts its own API version (2026-10-21) in InvokeModel bodies, which the emulator refuses as Bedrock's
# InvokeModel documents only bedrock-2023-05-31; Quarry relays the body as sent, so the test names the version.
VERSION = {"anthropic_version": "bedrock-2023-05-31"}


@pytest.fixture
def claude(gateway: Gateway) -> Iterator[AnthropicBedrock]:
    key = gateway.key(models=["*claude-sonnet-4-5*"])
    with AnthropicBedrock(api_key=key.secret, base_url=f"{gateway.url}/bedrock", aws_region="us-east-1") as made:
        yield made


def test_a_message(claude: AnthropicBedrock) -> None:
    message = claude.messages.create(model=SONNET_45_PROFILE, max_tokens=50, messages=HELLO, extra_body=VERSION)  # type: ignore[arg-type]
    assert message.content[0].type == "text"
    assert message.content[0].text == 'You said: "Say hello."'
    assert message.usage.output_tokens > 0


def test_a_stream(claude: AnthropicBedrock) -> None:
    with claude.messages.stream(model=SONNET_45_PROFILE, max_tokens=50, messages=HELLO, extra_body=VERSION) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == 'You said: "Say hello."'
    assert final.stop_reason == "end_turn"


def test_a_model_outside_the_scope(claude: AnthropicBedrock) -> None:
    with pytest.raises(PermissionDeniedError) as raised:
        claude.messages.create(model=HAIKU, max_tokens=50, messages=HELLO, extra_body=VERSION)  # type: ignore[arg-type]
    assert raised.value.status_code == 403
    assert HAIKU in str(raised.value)


def test_signed_with_the_aws_credentials_quarry_issued(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    key = gateway.key(models=["*claude-sonnet-4-5*"], aws=True)
    assert key.aws is not None
    access_key_id, secret = key.aws
    with AnthropicBedrock(
        aws_access_key=access_key_id, aws_secret_key=secret, aws_region="us-east-1", base_url=gateway.url
    ) as claude:
        message = claude.messages.create(model=SONNET_45_PROFILE, max_tokens=50, messages=HELLO, extra_body=VERSION)  # type: ignore[arg-type]
        assert message.content[0].type == "text"
        assert message.content[0].text == 'You said: "Say hello."'
    row = gateway.usage_of(key, requests=1)
    assert row["output_tokens"] == message.usage.output_tokens
