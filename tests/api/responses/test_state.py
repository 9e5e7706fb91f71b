"""Stored responses: retrieve, delete, previous_response_id chains, input items by page, another key's 404, and
input token counts."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.api.conftest import HAIKU, KEY, SONNET_37
from tests.api.responses.test_create import WEATHER


@pytest.fixture(scope="module")
def other_key(gateway: str) -> str:
    made = httpx.post(
        f"{gateway}/admin/keys", json={"name": "responses-other"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


def test_stored_by_default_then_retrieved_and_deleted(client: openai.OpenAI) -> None:
    made = client.responses.create(model=HAIKU, input="Remember me")
    assert made.store is True  # type: ignore[attr-defined]  # echoed by the API, absent from the SDK's model
    fetched = client.responses.retrieve(made.id)
    assert fetched.model_dump() == made.model_dump()
    deleted = client.responses.with_raw_response.delete(made.id)
    assert deleted.http_response.json() == {"id": made.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(made.id)
    body: Any = caught.value.body
    assert body["code"] == "response_not_found"
    assert body["type"] == "invalid_request_error"


def test_store_false_keeps_nothing(client: openai.OpenAI) -> None:
    made = client.responses.create(model=HAIKU, input="Forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model=HAIKU, input="and then?", previous_response_id=made.id)
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_streamed_responses_are_stored_too(client: openai.OpenAI) -> None:
    with client.responses.stream(model=HAIKU, input="Say hello") as stream:
        final = stream.get_final_response()
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_another_key_gets_404(gateway: str, client: openai.OpenAI, other_key: str) -> None:
    made = client.responses.create(model=HAIKU, input="Mine")
    with openai.OpenAI(base_url=f"{gateway}/v1", api_key=other_key, max_retries=0) as other:
        with pytest.raises(openai.NotFoundError):
            other.responses.retrieve(made.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.delete(made.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.input_items.list(made.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.create(model=HAIKU, input="go on", previous_response_id=made.id)
    assert client.responses.retrieve(made.id).id == made.id


def test_previous_response_id_chain(client: openai.OpenAI) -> None:
    first = client.responses.create(model=HAIKU, input="Use get_weather for Paris", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    second = client.responses.create(
        model=HAIKU,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"t": 21}'}],
        tools=[WEATHER],
    )
    assert second.previous_response_id == first.id
    assert second.output_text == 'The get_weather tool returned: {"t": 21}'
    third = client.responses.create(model=HAIKU, previous_response_id=second.id, input="Thanks", tools=[WEATHER])
    assert third.status == "completed"
    # The chain reached the model: the emulator counts the whole conversation's input.
    assert third.usage is not None
    assert second.usage is not None
    assert third.usage.input_tokens > second.usage.input_tokens


def test_thinking_continues_through_a_stored_chain(client: openai.OpenAI) -> None:
    reasoning: Any = {"effort": "medium"}
    first = client.responses.create(
        model=SONNET_37, input="Use get_weather for Paris", tools=[WEATHER], reasoning=reasoning
    )
    assert first.output[0].type == "reasoning"
    assert first.output[0].encrypted_content is None  # sealed in the store, not shown
    call = next(item for item in first.output if item.type == "function_call")
    second = client.responses.create(
        model=SONNET_37,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "{}"}],
        tools=[WEATHER],
        reasoning=reasoning,
    )
    assert second.output[0].type == "reasoning"  # the signed thinking went back from the store


def test_input_items_by_page(client: openai.OpenAI) -> None:
    given: Any = [{"role": "user", "content": f"message {n}"} for n in range(5)]
    made = client.responses.create(model=HAIKU, input=given)
    newest_first = client.responses.input_items.list(made.id)
    texts = [item.content[0].text for item in newest_first.data]  # type: ignore[union-attr]
    assert texts == [f"message {n}" for n in reversed(range(5))]
    assert newest_first.has_more is False
    assert newest_first.first_id == newest_first.data[0].id
    assert newest_first.last_id == newest_first.data[-1].id
    page = client.responses.input_items.list(made.id, order="asc", limit=2)
    assert [item.content[0].text for item in page.data] == ["message 0", "message 1"]  # type: ignore[union-attr]
    assert page.has_more is True
    rest = client.responses.input_items.list(made.id, order="asc", limit=2, after=page.last_id)
    assert [item.content[0].text for item in rest.data] == ["message 2", "message 3"]  # type: ignore[union-attr]
    everything = list(client.responses.input_items.list(made.id, order="asc", limit=2))
    assert len(everything) == 5  # the SDK's auto-pagination follows has_more and last_id
    for wrong in (1000, "²"):  # "²".isdigit() is true, and int("²") fails: a 400 all the same, not a 500
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.input_items.list(made.id, limit=wrong)  # type: ignore[arg-type]
        assert caught.value.body["param"] == "limit"  # type: ignore[index]


def test_input_tokens(client: openai.OpenAI) -> None:
    short = client.responses.input_tokens.count(model=HAIKU, input="Hi")
    assert short.object == "response.input_tokens"
    longer = client.responses.input_tokens.count(
        model=HAIKU, input="Hi there, how are you today?", instructions="Be brief.", tools=[WEATHER]
    )
    assert 0 < short.input_tokens < longer.input_tokens
    made = client.responses.create(model=HAIKU, input="Hi there, how are you today?")
    assert made.usage is not None
    chained = client.responses.input_tokens.count(model=HAIKU, input="And then?", previous_response_id=made.id)
    assert chained.input_tokens > made.usage.input_tokens


def test_replayed_reasoning_items_get_their_content_from_the_store(client: openai.OpenAI) -> None:
    """The Agents SDK sends a stored response's output back as input: its reasoning items carry no content."""
    reasoning: Any = {"effort": "medium"}
    conversation: list[Any] = [{"role": "user", "content": "Use get_weather for Paris"}]
    first = client.responses.create(model=SONNET_37, input=conversation, tools=[WEATHER], reasoning=reasoning)
    replayed = [item.model_dump(exclude_none=True) for item in first.output]
    assert "encrypted_content" not in replayed[0]
    call = next(item for item in first.output if item.type == "function_call")
    conversation += [*replayed, {"type": "function_call_output", "call_id": call.call_id, "output": "{}"}]
    second = client.responses.create(model=SONNET_37, input=conversation, tools=[WEATHER], reasoning=reasoning)
    assert second.output[0].type == "reasoning"  # thinking went on: the signed block was found and sent back


def test_item_references_to_stored_reasoning(client: openai.OpenAI) -> None:
    reasoning: Any = {"effort": "medium"}
    conversation: list[Any] = [{"role": "user", "content": "Use get_weather for Paris"}]
    first = client.responses.create(model=SONNET_37, input=conversation, tools=[WEATHER], reasoning=reasoning)
    call = next(item for item in first.output if item.type == "function_call")
    conversation += [
        {"type": "item_reference", "id": first.output[0].id},
        *[item.model_dump(exclude_none=True) for item in first.output[1:]],
        {"type": "function_call_output", "call_id": call.call_id, "output": "{}"},
    ]
    second = client.responses.create(model=SONNET_37, input=conversation, tools=[WEATHER], reasoning=reasoning)
    assert second.output[0].type == "reasoning"


def test_item_references_to_stored_messages_and_tool_calls(client: openai.OpenAI) -> None:
    """The Vercel AI SDK (store: true) sends the assistant's earlier items as references: each is found in the store
    and reaches the model as if replayed in full."""
    asked: Any = {"role": "user", "content": "Use get_weather for Paris [[emulator: reply=Looking it up.]]"}
    first = client.responses.create(model=HAIKU, input=[asked], tools=[WEATHER])
    assert [item.type for item in first.output] == ["message", "function_call"]
    call = next(item for item in first.output if item.type == "function_call")
    answered: Any = {"type": "function_call_output", "call_id": call.call_id, "output": '{"t": 21}'}
    second = client.responses.create(model=HAIKU, input=[asked, answered], tools=[WEATHER])
    references: list[Any] = [{"type": "item_reference", "id": item.id} for item in first.output]
    with_references = client.responses.create(model=HAIKU, input=[asked, *references, answered], tools=[WEATHER])
    replayed: list[Any] = [item.model_dump(exclude_none=True) for item in first.output]
    in_full = client.responses.create(model=HAIKU, input=[asked, *replayed, answered], tools=[WEATHER])
    assert with_references.output_text == 'The get_weather tool returned: {"t": 21}'
    assert with_references.usage is not None
    assert in_full.usage is not None
    assert second.usage is not None
    assert with_references.usage.input_tokens == in_full.usage.input_tokens > second.usage.input_tokens
    # The references are kept as the items they named.
    kept = client.responses.input_items.list(with_references.id, order="asc")
    assert [(item.type, item.id) for item in kept.data[1:3]] == [
        ("message", first.output[0].id),
        ("function_call", call.id),
    ]
    # A function_call_output given as input is stored too, and can be named later.
    output_id = client.responses.input_items.list(second.id, order="asc").data[1].id
    third = client.responses.create(
        model=HAIKU, input=[asked, *references, {"type": "item_reference", "id": output_id}], tools=[WEATHER]
    )
    assert third.output_text == with_references.output_text


@pytest.mark.parametrize("whose", ["unknown", "another key's"])
def test_item_reference_not_found_is_a_400(client: openai.OpenAI, gateway: str, other_key: str, whose: str) -> None:
    first = client.responses.create(model=HAIKU, input="Hello")
    item_id = "msg_nothing" if whose == "unknown" else first.output[0].id
    with (
        openai.OpenAI(base_url=f"{gateway}/v1", api_key=other_key, max_retries=0) as other,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        other.responses.create(
            model=HAIKU, input=[{"role": "user", "content": "Hi"}, {"type": "item_reference", "id": item_id}]
        )
    body: Any = caught.value.body
    assert body == {
        "message": f"Item with id '{item_id}' not found.",
        "type": "invalid_request_error",
        "param": "input[1].id",
        "code": "item_not_found",
    }
