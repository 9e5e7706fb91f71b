"""The file_search tool over Quarry's knowledge bases, with the official SDK: the search's output item (results when
included), the answer's file_citation annotations, the stream's file_search_call events in OpenAI's order, filters,
and refusals naming the knowledge base at fault."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import openai
import pytest

from tests.api.conftest import HAIKU, KEY

LEAVE = b"# Leave\n\nEvery employee gets 25 days of paid annual leave each year.\n"
TRAVEL = b"# Travel\n\nTrain tickets are booked through the travel desk two weeks ahead.\n"
QUESTION = "How many days of annual leave do employees get?"


@pytest.fixture(scope="module")
def handbook(gateway: str) -> str:
    """A knowledge base (the admin's) holding leave.md and travel.md."""
    name = f"fs-{secrets.token_hex(4)}"
    with httpx.Client(base_url=f"{gateway}/v1", headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as http:
        assert http.post("/knowledge-bases", json={"name": name}).status_code == 201
        for file, text in (("leave.md", LEAVE), ("travel.md", TRAVEL)):
            uploaded = http.post(f"/knowledge-bases/{name}/documents", files=[("file", (file, text))])
            assert uploaded.status_code == 200, uploaded.text
    return name


def _tool(name: str, **more: Any) -> Any:
    return {"type": "file_search", "vector_store_ids": [name], **more}


def test_answered_from_the_knowledge_base_with_citations(client: openai.OpenAI, handbook: str) -> None:
    response = client.responses.create(
        model=HAIKU, input=QUESTION, tools=[_tool(handbook)], include=["file_search_call.results"]
    )
    search, message = response.output
    assert search.type == "file_search_call"
    assert (search.status, search.queries) == ("completed", [QUESTION])
    assert search.results is not None
    assert search.results[0].filename == "leave.md"
    assert "25 days" in (search.results[0].text or "")
    assert 0 < (search.results[0].score or 0) <= 1
    assert message.type == "message"
    text = message.content[0]
    assert text.type == "output_text"
    assert "25 days" in text.text
    [citation] = text.annotations
    assert citation.type == "file_citation"
    assert (citation.filename, citation.file_id) == ("leave.md", search.results[0].file_id)
    assert text.text[citation.index :].startswith("[1]")
    # The search's item goes back with the chain (and is not sent to the model as a turn of its own).
    follow_up = client.responses.create(model=HAIKU, input="Thanks!", previous_response_id=response.id)
    assert follow_up.status == "completed"


def test_results_only_when_included_and_filters(client: openai.OpenAI, handbook: str) -> None:
    plain = client.responses.create(model=HAIKU, input=QUESTION, tools=[_tool(handbook, max_num_results=1)])
    assert plain.output[0].type == "file_search_call"
    assert plain.output[0].results is None
    only_travel = {"type": "and", "filters": [{"type": "eq", "key": "name", "value": "travel.md"}]}
    filtered = client.responses.create(
        model=HAIKU,
        input=QUESTION,
        tools=[_tool(handbook, filters=only_travel)],
        include=["file_search_call.results"],
    )
    search = filtered.output[0]
    assert search.type == "file_search_call"
    assert search.results is not None
    assert {result.filename for result in search.results} <= {"travel.md"}
    message: Any = filtered.output[-1]
    assert {annotation.filename for annotation in message.content[0].annotations} <= {"travel.md"}


def test_streamed_in_openais_order(client: openai.OpenAI, handbook: str) -> None:
    with client.responses.stream(model=HAIKU, input=QUESTION, tools=[_tool(handbook)]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [event.sequence_number for event in events] == list(range(len(events)))
    kinds = [event.type for event in events]
    assert kinds[:7] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
    ]
    added: Any = events[2]
    assert (added.item.type, added.item.status, added.output_index) == ("file_search_call", "in_progress", 0)
    assert kinds.index("response.output_text.annotation.added") < kinds.index("response.output_text.done")
    annotation: Any = next(event for event in events if event.type == "response.output_text.annotation.added")
    assert (annotation.output_index, annotation.annotation_index) == (1, 0)
    assert annotation.annotation.filename == "leave.md"
    assert kinds[-1] == "response.completed"
    assert [item.type for item in final.output] == ["file_search_call", "message"]
    assert final.output[1].content[0].annotations[0].filename == "leave.md"  # type: ignore[union-attr]
    assert client.responses.retrieve(final.id).output[0].type == "file_search_call"


def test_refusals_name_the_knowledge_base(gateway: str, client: openai.OpenAI, handbook: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model=HAIKU, input=QUESTION, tools=[_tool("nowhere")])
    body: Any = caught.value.body
    assert body["param"] == "tools[0].vector_store_ids[0]"
    assert "nowhere" in body["message"]
    made = httpx.post(
        f"{gateway}/admin/keys", json={"name": "file-search-other"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    other = openai.OpenAI(base_url=f"{gateway}/v1", api_key=made.json()["key"], max_retries=0)
    with other, pytest.raises(openai.NotFoundError) as refused:
        other.responses.create(model=HAIKU, input=QUESTION, tools=[_tool(handbook)])
    assert refused.value.body == {**body, "message": body["message"].replace("nowhere", handbook)}
    for tool, param in [
        (_tool(handbook, max_num_results=51), "tools[0].max_num_results"),
        ({"type": "file_search", "vector_store_ids": []}, "tools[0].vector_store_ids"),
        (_tool(handbook, filters={"type": "like", "key": "k", "value": "v"}), "tools[0].filters.type"),
    ]:
        with pytest.raises(openai.BadRequestError) as bad:
            client.responses.create(model=HAIKU, input=QUESTION, tools=[tool])
        assert bad.value.body["param"] == param  # type: ignore[index]


def test_a_kb_model_answers_from_its_knowledge_base_as_on_chat(client: openai.OpenAI, handbook: str) -> None:
    """`kb:NAME:MODEL`, as chat completions take it: the model with a file_search over NAME; and kb:NAME alone
    answers with the default model, streamed too."""
    response = client.responses.create(model=f"kb:{handbook}:{HAIKU}", input=QUESTION)
    search, message = response.output
    assert search.type == "file_search_call"
    assert search.queries == [QUESTION]
    text = message.content[0]
    assert text.type == "output_text"
    assert "25 days" in text.text
    assert [a.filename for a in text.annotations] == ["leave.md"]  # type: ignore[union-attr]
    with client.responses.stream(model=f"kb:{handbook}", input=QUESTION) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.file_search_call.completed" in kinds
    assert "25 days" in final.output_text


def test_a_kb_model_the_key_may_not_read_is_the_404_of_a_missing_one(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="kb:no-such-base", input=QUESTION)
    assert caught.value.body["param"] == "model"  # type: ignore[index]


def test_input_tokens_count_the_passages(client: openai.OpenAI, handbook: str) -> None:
    """input_tokens runs create's search, so the count includes the passages the model would be given."""
    bare = client.responses.input_tokens.count(model=HAIKU, input=QUESTION)
    counted = client.responses.input_tokens.count(model=HAIKU, input=QUESTION, tools=[_tool(handbook)])
    created = client.responses.create(model=HAIKU, input=QUESTION, tools=[_tool(handbook)])
    assert created.usage is not None
    assert counted.input_tokens == created.usage.input_tokens > bare.input_tokens
