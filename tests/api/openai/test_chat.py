"""Chat completions, whole answers: messages, parameters, model names and the response shape."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.api.conftest import HAIKU, KEY, MISTRAL_7B, SONNET_37, SONNET_45, SONNET_45_PROFILE
from tests.conftest import SDKs


def test_plain_completion_has_openai_shape(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "Hello there"}])
    assert answer.object == "chat.completion"
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == HAIKU
    choice = answer.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == 'You said: "Hello there"'
    assert choice.message.tool_calls is None
    assert answer.usage is not None
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens > 0
    assert answer.usage.prompt_tokens_details is not None
    assert answer.usage.prompt_tokens_details.cached_tokens == 0


def test_system_and_developer_messages_reach_the_model(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=HAIKU,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use plain words."}]},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "again"}]},
        ],
    )
    assert answer.choices[0].message.content == 'You said: "Hi again"'


def test_openai_model_names_use_the_default_model_through_its_profile(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    # The default (the current Sonnet, 5.5) is served only through inference profiles: the us profile for us-east-1.
    assert answer.model == "us.anthropic.claude-sonnet-5-5"


@pytest.mark.parametrize(
    ("requested", "used"),
    [
        (SONNET_37, SONNET_37),
        (SONNET_45, SONNET_45_PROFILE),
        ("fast", HAIKU),
        ("smart", SONNET_45_PROFILE),
        (
            f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
            f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
        ),
    ],
)
def test_model_ids_profiles_aliases_and_arns(client: openai.OpenAI, requested: str, used: str) -> None:
    answer = client.chat.completions.create(model=requested, messages=[{"role": "user", "content": "Hi"}])
    assert answer.model == used
    assert answer.choices[0].message.content == 'You said: "Hi"'


def test_max_tokens_cuts_the_answer_with_length(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=HAIKU, max_tokens=5, messages=[{"role": "user", "content": "[[emulator: words=100]] go"}]
    )
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 5
    newer = client.chat.completions.create(
        model=HAIKU, max_completion_tokens=3, messages=[{"role": "user", "content": "[[emulator: words=100]] go"}]
    )
    assert newer.usage is not None
    assert newer.usage.completion_tokens == 3


def test_without_max_tokens_the_model_limit_applies(client: openai.OpenAI) -> None:
    # 5,000 words exceed Haiku's 4,096-token output limit: the answer is cut there, not at an arbitrary cap.
    answer = client.chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "[[emulator: words=5000]]"}]
    )
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 4096


def test_stop_sequences(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=HAIKU, stop="BREAK", messages=[{"role": "user", "content": "[[emulator: reply=one two BREAK three]]"}]
    )
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content == "one two "


def test_temperature_with_top_p_on_a_model_that_refuses_both(client: openai.OpenAI) -> None:
    # Sonnet 4.5 refuses temperature together with top_p; Quarry drops top_p instead of failing.
    answer = client.chat.completions.create(
        model=SONNET_45, temperature=1.5, top_p=0.9, messages=[{"role": "user", "content": "Hi"}]
    )
    assert answer.choices[0].message.content == 'You said: "Hi"'


def test_accepted_and_ignored_fields(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=HAIKU,
        n=1,
        seed=7,
        user="someone",
        messages=[{"role": "user", "content": "Hi"}],
        extra_body={"some_future_field": {"x": 1}, "top_k": 5},
    )
    assert answer.choices[0].message.content == 'You said: "Hi"'


@pytest.mark.parametrize(
    ("extra", "param"), [({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"top_logprobs": 2}, "top_logprobs")]
)
def test_unsupported_parameters_are_named(client: openai.OpenAI, extra: dict[str, object], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "Hi"}], **extra)  # type: ignore[call-overload]
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == param  # type: ignore[index]
    assert param in caught.value.body["message"]  # type: ignore[index]


def test_histories_are_normalised(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=HAIKU,
        messages=[
            {"role": "assistant", "content": "Welcome! How can I help?"},
            {"role": "assistant", "content": "I am listening."},
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "third"},
        ],
    )
    # The empty assistant turn is dropped, so the user turns around it merge into one.
    assert answer.choices[0].message.content == 'You said: "first second third"'


def test_tool_history_with_orphans_and_broken_arguments_is_repaired(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=HAIKU,
        messages=[
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{bad"}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_9", "content": "from nowhere"},
            {"role": "user", "content": "thanks"},
        ],
    )
    # call_2 got an empty result and call_9's orphan result became text, so Bedrock accepted the history.
    assert answer.choices[0].message.content is not None
    assert "sunny" in answer.choices[0].message.content


def test_system_prompt_reaches_a_model_without_system_support(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=MISTRAL_7B,
        messages=[{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hello"}],
    )
    assert answer.choices[0].message.content == 'You said: "Be kind. Hello"'  # the emulator joins text blocks


def test_routes_are_also_under_api_v1(gateway: str, sdk: SDKs) -> None:
    legacy = sdk.openai(f"{gateway}/api/v1", KEY)
    answer = legacy.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "Hi"}])
    assert answer.choices[0].message.content == 'You said: "Hi"'


def test_prompt_caching_by_request_reports_cached_tokens(client: openai.OpenAI) -> None:
    system = [{"type": "text", "text": "Long shared instructions. " * 200, "cache_control": {"type": "ephemeral"}}]
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Hi"}]
    first = client.chat.completions.create(model=SONNET_37, messages=messages)  # type: ignore[arg-type]
    second = client.chat.completions.create(model=SONNET_37, messages=messages)  # type: ignore[arg-type]
    assert first.usage is not None
    assert second.usage is not None
    assert second.usage.prompt_tokens_details is not None
    assert second.usage.prompt_tokens_details.cached_tokens > 0
    assert second.usage.prompt_tokens == first.usage.prompt_tokens


def test_raw_response_headers_and_body(gateway: str) -> None:
    response = httpx.post(
        f"{gateway}/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": HAIKU, "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "object", "created", "model", "system_fingerprint", "service_tier", "choices", "usage"}
    assert body["choices"][0]["message"] == {"role": "assistant", "content": 'You said: "Hi"', "refusal": None}
