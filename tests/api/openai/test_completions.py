"""Legacy text completions (`POST /v1/completions`) with the openai SDK: whole and streamed, prompt lists, token
arrays, the chat route's parameters, and a clear 400 for what Bedrock cannot do."""

from __future__ import annotations

import httpx
import openai
import pytest
import quicktok

from tests.api.conftest import HAIKU, KEY

OPUS_55 = "claude-opus-5-5"


def test_a_prompt_is_completed_in_openais_shape(client: openai.OpenAI) -> None:
    answer = client.completions.create(model=HAIKU, prompt="Hello there", user="someone")
    assert answer.object == "text_completion"
    assert answer.id.startswith("cmpl-")
    assert answer.model == HAIKU
    [choice] = answer.choices
    assert (choice.index, choice.text, choice.finish_reason, choice.logprobs) == (
        0,
        'You said: "Hello there"',
        "stop",
        None,
    )
    assert answer.usage is not None
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.usage.completion_tokens > 0


def test_each_prompt_of_a_list_is_its_own_choice(client: openai.OpenAI) -> None:
    one = client.completions.create(model=HAIKU, prompt="first")
    both = client.completions.create(model=HAIKU, prompt=["first", "[[emulator: reply=Second.]]"])
    assert [(c.index, c.text) for c in both.choices] == [(0, 'You said: "first"'), (1, "Second.")]
    assert one.usage is not None
    assert both.usage is not None
    assert both.usage.prompt_tokens > one.usage.prompt_tokens  # the usage of every prompt, added up
    assert both.usage.completion_tokens > one.usage.completion_tokens


@pytest.mark.parametrize("model", ["gpt-3.5-turbo-instruct", "gpt-4o"])
def test_token_array_prompts_are_decoded_with_the_models_tokenizer(client: openai.OpenAI, model: str) -> None:
    encoding = quicktok.get_encoding("o200k_base" if model == "gpt-4o" else "cl100k_base")
    one, two = encoding.encode("Bonjour à tous"), encoding.encode("Grüße 🦊")
    single = client.completions.create(model=model, prompt=one)
    assert single.choices[0].text == 'You said: "Bonjour à tous"'
    many = client.completions.create(model=model, prompt=[one, two])
    assert [c.text for c in many.choices] == ['You said: "Bonjour à tous"', 'You said: "Grüße 🦊"']


def test_max_tokens_and_stop_end_the_text_as_openai_says(client: openai.OpenAI) -> None:
    cut = client.completions.create(model=HAIKU, prompt="[[emulator: words=50]]", max_tokens=5)
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage is not None
    assert cut.usage.completion_tokens <= 5
    stopped = client.completions.create(model=HAIKU, prompt="[[emulator: reply=one two three]]", stop=["two"])
    assert (stopped.choices[0].text, stopped.choices[0].finish_reason) == ("one ", "stop")


def test_streamed_chunks_are_text_completions(client: openai.OpenAI) -> None:
    chunks = list(
        client.completions.create(
            model=HAIKU, prompt="[[emulator: words=20]]", stream=True, stream_options={"include_usage": True}
        )
    )
    assert {c.object for c in chunks} == {"text_completion"}
    assert len({c.id for c in chunks}) == 1
    *texts, finish, last = chunks
    assert len("".join(c.choices[0].text for c in texts).split()) == 20
    assert all(c.choices[0].finish_reason is None and c.usage is None for c in texts)
    assert (finish.choices[0].text, finish.choices[0].finish_reason) == ("", "stop")
    assert last.choices == []  # the usage chunk, as OpenAI sends it
    assert last.usage is not None
    assert last.usage.completion_tokens > 0


def test_a_streamed_prompt_list_sends_each_prompt_under_its_index(client: openai.OpenAI) -> None:
    stream = client.completions.create(
        model=HAIKU,
        prompt=["[[emulator: reply=alpha beta]]", "[[emulator: reply=gamma]]"],
        stream=True,
        stream_options={"include_usage": True},
    )
    texts: dict[int, str] = {}
    finished: list[int] = []
    usage = None
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
            if choice.finish_reason is not None:
                finished.append(choice.index)
        usage = chunk.usage or usage
    assert texts == {0: "alpha beta", 1: "gamma"}
    assert finished == [0, 1]
    whole = client.completions.create(
        model=HAIKU, prompt=["[[emulator: reply=alpha beta]]", "[[emulator: reply=gamma]]"]
    )
    assert usage is not None
    assert whole.usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (whole.usage.prompt_tokens, whole.usage.completion_tokens)


def test_without_include_usage_the_stream_ends_with_done_and_no_usage(gateway: str) -> None:
    body = {"model": HAIKU, "prompt": "Hi", "stream": True}
    with httpx.stream(
        "POST", f"{gateway}/api/v1/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert all('"usage"' not in event for event in events)


def test_a_stream_that_fails_upstream_ends_with_an_error_event(client: openai.OpenAI) -> None:
    stream = client.completions.create(model=HAIKU, prompt="[[emulator: words=40, stream-error-after=3]]", stream=True)
    with pytest.raises(openai.APIError):
        list(stream)


def test_opus_55_drops_sampling_and_says_so(client: openai.OpenAI) -> None:
    raw = client.completions.with_raw_response.create(model=OPUS_55, prompt="Hi", temperature=0)
    assert raw.headers["x-quarry-dropped-params"] == "temperature"
    assert raw.parse().choices[0].text == 'You said: "Hi"'


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"echo": True}, "echo"),
        ({"suffix": "and then?"}, "suffix"),
        ({"logprobs": 2}, "logprobs"),
        ({"best_of": 2}, "best_of"),
        ({"n": 2}, "n"),
        ({"temperature": 3}, "temperature"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": ["fine", " "]}, "prompt[1]"),
        ({"prompt": []}, "prompt"),
        ({"prompt": [[9906], []]}, "prompt[1]"),
        ({"prompt": [9906, 100300]}, "prompt[1]"),
        ({"prompt": [[9906], [9906, -1]]}, "prompt[1][1]"),
        ({"prompt": [9906, True]}, "prompt"),
        ({"prompt": ["x"] * 65}, "prompt"),
    ],
)
def test_what_cannot_be_done_is_a_400_naming_the_parameter(
    client: openai.OpenAI, fields: dict[str, object], param: str
) -> None:
    body: dict[str, object] = {"model": HAIKU, "prompt": "Hi"} | fields
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/completions", body=body, cast_to=object)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error"
    assert error["message"]


def test_an_unknown_token_is_named_with_its_vocabulary(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match=r"token id 100300 at `prompt\[1\]`: not in the cl100k_base"):
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt=[9906, 100300])
    with pytest.raises(openai.BadRequestError, match="o200k_base"):
        client.completions.create(model="gpt-4o", prompt=[200300])
