"""OpenAI's Conversations API with the official SDK: conversations and their items, the `conversation` parameter of
responses.create (its input and output added to the conversation, the conversation given to the model), another
key's 404, and the toolbox's history moved out of its way to /v1/toolbox/conversations."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from tests.api.conftest import HAIKU, KEY
from tests.api.responses.test_background import _poll
from tests.api.responses.test_create import WEATHER


@pytest.fixture(scope="module")
def other_key(gateway: str) -> str:
    made = httpx.post(
        f"{gateway}/admin/keys", json={"name": "conversations-other"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


def test_a_conversation_and_its_items(client: openai.OpenAI) -> None:
    made = client.conversations.create(
        metadata={"topic": "demo"}, items=[{"type": "message", "role": "user", "content": "Hello there"}]
    )
    assert made.id.startswith("conv_")
    assert made.object == "conversation"
    assert made.metadata == {"topic": "demo"}
    assert client.conversations.retrieve(made.id).model_dump() == made.model_dump()
    updated = client.conversations.update(made.id, metadata={"topic": "changed"})
    assert updated.metadata == {"topic": "changed"}
    added = client.conversations.items.create(
        made.id,
        items=[
            {"type": "message", "role": "assistant", "content": "Hi"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And then?"}]},
        ],
    )
    assert [item.type for item in added.data] == ["message", "message"]
    assert added.first_id == added.data[0].id
    newest_first = list(client.conversations.items.list(made.id))
    texts = [item.content[0].text for item in newest_first]  # type: ignore[union-attr]
    assert texts == ["And then?", "Hi", "Hello there"]
    assert newest_first[0].status == "completed"  # type: ignore[union-attr]
    first_page = client.conversations.items.list(made.id, order="asc", limit=2)
    assert [item.id for item in first_page.data] == [newest_first[2].id, newest_first[1].id]
    assert first_page.has_more is True
    rest = client.conversations.items.list(made.id, order="asc", limit=2, after=first_page.data[-1].id)
    assert [item.id for item in rest.data] == [newest_first[0].id]
    assert rest.has_more is False
    one = client.conversations.items.retrieve(newest_first[1].id, conversation_id=made.id)
    assert one.model_dump() == newest_first[1].model_dump()
    after_delete = client.conversations.items.delete(newest_first[1].id, conversation_id=made.id)
    assert after_delete.id == made.id
    assert len(list(client.conversations.items.list(made.id))) == 2
    with pytest.raises(openai.NotFoundError) as caught:
        client.conversations.items.retrieve(newest_first[1].id, conversation_id=made.id)
    assert caught.value.body["code"] == "item_not_found"  # type: ignore[index]
    deleted = client.conversations.delete(made.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (made.id, True, "conversation.deleted")
    with pytest.raises(openai.NotFoundError) as caught:
        client.conversations.retrieve(made.id)
    body: Any = caught.value.body
    assert (body["type"], body["code"]) == ("invalid_request_error", "conversation_not_found")


def test_responses_in_a_conversation(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    first = client.responses.create(
        model=HAIKU, input="Use get_weather for Paris", tools=[WEATHER], conversation=conversation.id
    )
    assert first.conversation is not None
    assert first.conversation.id == conversation.id
    call = next(item for item in first.output if item.type == "function_call")
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [item.type for item in items] == ["message", *[item.type for item in first.output]]
    assert items[-1].id == first.output[-1].id
    # The conversation reached the model: it answers the tool's result with the call it made earlier.
    second = client.responses.create(
        model=HAIKU,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"t": 21}'}],
        tools=[WEATHER],
        conversation={"id": conversation.id},
    )
    assert second.output_text == 'The get_weather tool returned: {"t": 21}'
    with client.responses.stream(model=HAIKU, input="Thanks", tools=[WEATHER], conversation=conversation.id) as stream:
        final = stream.get_final_response()
    assert final.conversation is not None
    assert final.usage is not None
    assert second.usage is not None
    assert final.usage.input_tokens > second.usage.input_tokens
    texts = [
        part.text
        for item in client.conversations.items.list(conversation.id, order="asc")
        if item.type == "message"
        for part in item.content
        if part.type in ("input_text", "output_text")
    ]
    assert texts[-2:] == ["Thanks", final.output_text]


def test_conversation_refusals_in_openais_words(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    previous = client.responses.create(model=HAIKU, input="Hi", store=True)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=HAIKU, input="Hi", conversation=conversation.id, previous_response_id=previous.id)
    body: Any = caught.value.body
    assert body["code"] == "mutually_exclusive_parameters"
    assert "'previous_response_id' or 'conversation'" in body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=HAIKU, input="Hi", conversation="not-a-conversation")
    assert caught.value.body["param"] == "conversation"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model=HAIKU, input="Hi", conversation=f"conv_{'0' * 48}")
    assert caught.value.body["code"] == "conversation_not_found"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.conversations.items.create(conversation.id, items=[{"type": "web_search_call", "id": "ws_1"}])
    assert caught.value.body["param"] == "items[0].type"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.conversations.items.create(conversation.id, items=[{"role": "user", "content": "x"}] * 21)
    assert caught.value.body["param"] == "items"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.conversations.create(metadata={str(n): "v" for n in range(17)})
    assert caught.value.body["param"] == "metadata"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.conversations.items.list(conversation.id, after="msg_nowhere")
    assert caught.value.body["param"] == "after"  # type: ignore[index]
    assert list(client.conversations.items.list(conversation.id)) == []  # nothing was added by the refusals


def test_another_key_gets_404(gateway: str, client: openai.OpenAI, other_key: str) -> None:
    mine = client.conversations.create(items=[{"type": "message", "role": "user", "content": "Mine"}])
    item = next(iter(client.conversations.items.list(mine.id)))
    with openai.OpenAI(base_url=f"{gateway}/api/v1", api_key=other_key, max_retries=0) as other:
        for attempt in (
            lambda: other.conversations.retrieve(mine.id),
            lambda: other.conversations.update(mine.id, metadata={"a": "b"}),
            lambda: other.conversations.delete(mine.id),
            lambda: other.conversations.items.list(mine.id),
            lambda: other.conversations.items.create(mine.id, items=[{"role": "user", "content": "x"}]),
            lambda: other.conversations.items.retrieve(item.id, conversation_id=mine.id),
            lambda: other.conversations.items.delete(item.id, conversation_id=mine.id),
            lambda: other.responses.create(model=HAIKU, input="go on", conversation=mine.id),
        ):
            with pytest.raises(openai.NotFoundError):
                attempt()
    assert [found.id for found in client.conversations.items.list(mine.id)] == [item.id]


def test_the_toolbox_history_has_a_path_of_its_own(gateway: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    made = httpx.post(f"{gateway}/v1/toolbox/conversations", json={"title": "Toolbox"}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["title"] == "Toolbox"
    listed = httpx.get(f"{gateway}/v1/toolbox/conversations", headers=headers).json()["data"]
    assert made.json()["id"] in [summary["id"] for summary in listed]
    # /v1/conversations is OpenAI's now: the toolbox's conversation is not one of them.
    missing = httpx.get(f"{gateway}/v1/conversations/{made.json()['id']}", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "conversation_not_found"


def test_a_background_response_joins_its_conversation_when_done(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    queued = client.responses.create(
        model=HAIKU, input="In the background", conversation=conversation.id, background=True
    )
    assert queued.status == "queued"
    assert queued.conversation is not None
    done = _poll(client, queued.id, until={"completed"})
    deadline = time.monotonic() + 30
    # The conversation takes the items just after the store says completed (a cancel in between would win).
    while len(items := list(client.conversations.items.list(conversation.id, order="asc"))) < 2:
        assert time.monotonic() < deadline, items
        time.sleep(0.05)
    assert [item.id for item in items][1:] == [item.id for item in done.output]
