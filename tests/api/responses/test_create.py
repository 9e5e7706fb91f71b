"""POST /v1/responses, whole: input shapes, instructions, output items, usage, limits and JSON formats."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.api.conftest import HAIKU, SONNET_37, SONNET_45


def test_text_input_gives_a_completed_message(client: openai.OpenAI) -> None:
    response = client.responses.create(model=HAIKU, input="Say hello", instructions="Be brief.")
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == HAIKU
    assert response.instructions == "Be brief."
    assert [item.type for item in response.output] == ["message"]
    message = response.output[0]
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.status == "completed"
    assert message.content[0].type == "output_text"
    assert response.output_text
    assert response.usage is not None
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}


def test_items_with_roles_images_and_files(client: openai.OpenAI, image_server: str) -> None:
    pdf = "data:application/pdf;base64,JVBERi0xLjQKJSBlbXB0eQo="
    text_file = "data:text/plain;base64,SGVsbG8gZnJvbSBhIGZpbGU="
    response = client.responses.create(
        model=SONNET_45,
        input=[
            {"role": "developer", "content": "Answer in English."},
            {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be kind."}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Describe these"},
                    {"type": "input_image", "image_url": f"{image_server}/cat.png", "detail": "auto"},
                    {"type": "input_file", "filename": "report.pdf", "file_data": pdf},
                    {"type": "input_file", "filename": "note.txt", "file_data": text_file},
                ],
            },
        ],
        metadata={"team": "docs"},
        temperature=0.2,
    )
    assert response.status == "completed"
    assert response.metadata == {"team": "docs"}
    assert response.temperature == 0.2
    assert response.output_text


def test_function_tool_round_trip(client: openai.OpenAI) -> None:
    conversation: list[Any] = [{"role": "user", "content": "Use get_weather for Paris"}]
    first = client.responses.create(model=HAIKU, input=conversation, tools=[WEATHER], store=False)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert call.call_id
    assert call.id
    assert call.id.startswith("fc_")
    assert call.status == "completed"
    assert '"city"' in call.arguments
    conversation += [item.model_dump(exclude_none=True) for item in first.output]
    conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": '{"t": 21}'})
    second = client.responses.create(model=HAIKU, input=conversation, tools=[WEATHER], store=False)
    assert second.output_text == 'The get_weather tool returned: {"t": 21}'


def test_namespace_tools_are_flattened_and_named_back(client: openai.OpenAI) -> None:
    namespace = {
        "type": "namespace",
        "name": "weather",
        "description": "Weather tools",
        "tools": [{"type": "function", "name": "get_weather", "parameters": WEATHER["parameters"]}],
    }
    response = client.responses.create(
        model=HAIKU, input="Call weather__get_weather", tools=[namespace], tool_choice="required", store=False
    )
    call = response.output[-1]
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert call.namespace == "weather"


def test_tool_choice_none_and_named(client: openai.OpenAI) -> None:
    none = client.responses.create(
        model=HAIKU, input="Use get_weather", tools=[WEATHER], tool_choice="none", store=False
    )
    assert [item.type for item in none.output] == ["message"]
    named = client.responses.create(
        model=HAIKU,
        input="Hello",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        store=False,
    )
    assert [item.type for item in named.output] == ["function_call"]
    assert named.parallel_tool_calls is False


def test_max_output_tokens_makes_it_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=HAIKU, input="[[emulator: words=100]] go", max_output_tokens=16, store=False
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    assert response.max_output_tokens == 16


def test_json_schema_and_json_object_formats(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    for model in (HAIKU, SONNET_45):
        shaped = client.responses.create(
            model=model,
            input="A person",
            text={"format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}},
            store=False,
        )
        value = json.loads(shaped.output_text)
        assert set(value) == {"name", "age"}
        assert shaped.text is not None
        assert shaped.text.format is not None
        assert shaped.text.format.type == "json_schema"
    loose = client.responses.create(
        model=HAIKU, input="Some JSON", text={"format": {"type": "json_object"}}, store=False
    )
    assert isinstance(json.loads(loose.output_text), dict)


class Person(BaseModel):
    name: str
    age: int


def test_parse_with_a_pydantic_text_format(client: openai.OpenAI) -> None:
    parsed = client.responses.parse(model=HAIKU, input="A person", text_format=Person, store=False)
    assert isinstance(parsed.output_parsed, Person)


def test_reasoning_effort_gives_a_reasoning_item(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=SONNET_37, input="Hi", reasoning={"effort": "low", "summary": "auto"}, store=False
    )
    assert [item.type for item in response.output] == ["reasoning", "message"]
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.id.startswith("rs_")
    assert reasoning.summary
    assert reasoning.summary[0].type == "summary_text"
    assert reasoning.summary[0].text
    assert reasoning.encrypted_content is None  # not asked for with include
    assert response.reasoning is not None
    assert response.reasoning.effort == "low"
    assert response.usage is not None
    assert 0 < response.usage.output_tokens_details.reasoning_tokens <= response.usage.output_tokens


@pytest.mark.parametrize("effort", [None, "low"])
@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-opus-4-7"])
def test_a_summary_shows_thinking_models_omit_by_default(client: openai.OpenAI, model: str, effort: str | None) -> None:
    # Claude 4.7 and later return thinking without its text unless asked; a summary (as Codex and the AI SDK ask
    # for) asks for it. Opus 5.5 thinks unasked, Opus 4.7 only with an effort.
    reasoning: Any = {"summary": "auto"} | ({"effort": effort} if effort else {})
    response = client.responses.create(model=model, input="Hi", reasoning=reasoning, store=False)
    items = [item for item in response.output if item.type == "reasoning"]
    if effort is None and model == "claude-opus-4-7":
        assert items == []
        return
    assert len(items) == 1, response.output
    assert items[0].summary
    assert items[0].summary[0].text.startswith("The user wrote")
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0


def test_unrunnable_built_in_tools_are_left_out_and_named(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model=HAIKU,
        input="Hello",
        tools=[{"type": "web_search"}, WEATHER, {"type": "code_interpreter", "container": {"type": "auto"}}],
        store=False,
    )
    assert raw.headers["x-quarry-ignored-tools"] == "web_search,code_interpreter"
    assert raw.parse().status == "completed"


def test_function_output_with_an_image_part(client: openai.OpenAI, image_server: str) -> None:
    conversation: list[Any] = [{"role": "user", "content": "Use get_weather for Paris"}]
    first = client.responses.create(model=HAIKU, input=conversation, tools=[WEATHER], store=False)
    call = next(item for item in first.output if item.type == "function_call")
    output = [{"type": "input_text", "text": "a map"}, {"type": "input_image", "image_url": f"{image_server}/cat.png"}]
    conversation += [item.model_dump(exclude_none=True) for item in first.output]
    conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": output})
    second = client.responses.create(model=HAIKU, input=conversation, tools=[WEATHER], store=False)
    assert second.status == "completed"
    # The emulator answers from the result's text; the image went with it as an image block.
    assert second.output_text == "The get_weather tool returned: a map"
