"""Converse through boto3 against the running emulator: answers, tools, thinking, caching, and Bedrock's checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import png
from tests.emulator.conftest import HAIKU, SONNET_37, SONNET_45, client, user

WEATHER_TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            }
        },
    }
}


def text_of(response: dict[str, Any]) -> str:
    return "".join(b.get("text", "") for b in response["output"]["message"]["content"])


CALLED_WEATHER = {
    "role": "assistant",
    "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}],
}


WEATHER_RESULT = {"toolUseId": "t1", "content": [{"text": "sunny"}]}


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    error = excinfo.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_converse_quotes_the_user_and_reports_usage(runtime: Any) -> None:
    response = runtime.converse(modelId=HAIKU, messages=[user("Hello there, emulator")])
    assert text_of(response) == 'You said: "Hello there, emulator"'
    assert response["stopReason"] == "end_turn"
    usage = response["usage"]
    assert usage["inputTokens"] > 0
    assert usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] >= 0
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


@pytest.mark.parametrize(
    "model_id",
    [
        HAIKU,
        f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
        SONNET_37,
        f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{SONNET_37}",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "amazon.nova-lite-v1:0",
        "meta.llama3-70b-instruct-v1:0",
    ],
)
def test_every_model_identifier_form_is_accepted(runtime: Any, model_id: str) -> None:
    response = runtime.converse(modelId=model_id, messages=[user("ping")])
    assert text_of(response) == 'You said: "ping"'


def test_unencoded_model_ids_in_the_path_are_routed(emulator_url: str) -> None:
    import httpx

    arn = f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
    body = {"messages": [user("raw path")]}
    response = httpx.post(f"{emulator_url}/model/{arn}/converse", json=body, headers={"Authorization": "Bearer key"})
    assert response.status_code == 200
    assert response.json()["output"]["message"]["content"][0]["text"] == 'You said: "raw path"'


def test_profile_of_another_geography_is_refused(emulator_url: str) -> None:
    eu_client = client("bedrock-runtime", emulator_url, region="eu-west-1")
    with pytest.raises(ClientError) as excinfo:
        eu_client.converse(modelId=SONNET_37, messages=[user("hi")])
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert "not available in eu-west-1" in message
    assert eu_client.converse(modelId="eu." + SONNET_37[3:], messages=[user("hi")])["stopReason"] == "end_turn"
    eu_client.close()


@pytest.mark.parametrize(
    ("model_id", "message"),
    [
        ("anthropic.claude-nonexistent-v9:0", "The provided model identifier is invalid."),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", "with on-demand throughput isn\u2019t supported"),
        ("amazon.titan-embed-text-v2:0", "doesn't support the model that you provided"),
    ],
)
def test_unusable_models_are_refused_as_bedrock_refuses_them(runtime: Any, model_id: str, message: str) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.converse(modelId=model_id, messages=[user("hi")])
    assert message in error_of(excinfo)[1]


def test_max_tokens_cuts_the_answer(runtime: Any) -> None:
    response = runtime.converse(
        modelId=HAIKU, messages=[user("[[emulator: words=50]]")], inferenceConfig={"maxTokens": 5}
    )
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] == 5
    assert 0 < len(text_of(response).split()) <= 5


def test_stop_sequences_end_the_answer_before_the_sequence(runtime: Any) -> None:
    response = runtime.converse(
        modelId=HAIKU,
        messages=[user("[[emulator: reply=alpha beta STOP gamma]]")],
        inferenceConfig={"stopSequences": ["STOP"]},
    )
    assert response["stopReason"] == "stop_sequence"
    assert text_of(response) == "alpha beta "


def test_named_tool_is_called_with_input_from_its_schema(runtime: Any) -> None:
    response = runtime.converse(
        modelId=HAIKU,
        messages=[user("Use get_weather for Paris")],
        toolConfig={"tools": [WEATHER_TOOL]},
    )
    assert response["stopReason"] == "tool_use"
    content = response["output"]["message"]["content"]
    tool_use = next(b["toolUse"] for b in content if "toolUse" in b)
    assert tool_use["name"] == "get_weather"
    assert tool_use["toolUseId"].startswith("tooluse_")
    assert tool_use["input"]["unit"] == "celsius"
    assert "Paris" in tool_use["input"]["city"]


@pytest.mark.parametrize("spacing", [" ", ""])
def test_call_directive_calls_the_tool_with_those_arguments(runtime: Any, spacing: str) -> None:
    arguments = {"city": "Oslo, Norway", "unit": "fahrenheit"}
    prompt = f"[[emulator: call=get_weather{spacing}{json.dumps(arguments)}]] What is it like outside?"
    response = runtime.converse(modelId=HAIKU, messages=[user(prompt)], toolConfig={"tools": [WEATHER_TOOL]})
    assert response["stopReason"] == "tool_use"
    content = response["output"]["message"]["content"]
    assert content[0]["text"] == "I'll use the get_weather tool."
    tool_use = content[1]["toolUse"]
    assert (tool_use["name"], tool_use["input"]) == ("get_weather", arguments)


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        ("call=get_time {}", "names a tool the request does not offer: get_time"),
        ("call=get_weather {city", "needs its arguments as a JSON object"),
        ("call=get_weather [1]", "needs its arguments as a JSON object"),
        ("call=", "needs a tool name"),
    ],
)
def test_bad_call_directives_are_validation_errors(runtime: Any, directive: str, message: str) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.converse(
            modelId=HAIKU, messages=[user(f"[[emulator: {directive}]] hi")], toolConfig={"tools": [WEATHER_TOOL]}
        )
    assert message in excinfo.value.response["Error"]["Message"]


def test_tool_choice_forces_a_call_without_text(runtime: Any) -> None:
    response = runtime.converse(
        modelId=HAIKU,
        messages=[user("no tool is named here")],
        toolConfig={"tools": [WEATHER_TOOL], "toolChoice": {"tool": {"name": "get_weather"}}},
    )
    content = response["output"]["message"]["content"]
    assert [list(b) for b in content] == [["toolUse"]]


def test_tool_result_round_trip_answers_from_the_result(runtime: Any) -> None:
    tools = {"tools": [WEATHER_TOOL]}
    first = runtime.converse(modelId=HAIKU, messages=[user("get_weather please")], toolConfig=tools)
    assistant = first["output"]["message"]
    tool_id = next(b["toolUse"]["toolUseId"] for b in assistant["content"] if "toolUse" in b)
    result = {"toolResult": {"toolUseId": tool_id, "content": [{"json": {"temperature": 21}}]}}
    second = runtime.converse(
        modelId=HAIKU,
        messages=[user("get_weather please"), assistant, {"role": "user", "content": [result]}],
        toolConfig=tools,
    )
    assert second["stopReason"] == "end_turn"
    assert text_of(second) == 'The get_weather tool returned: {"temperature":21}'


@pytest.mark.parametrize(
    ("messages", "tool_config", "message"),
    [
        ([{"role": "assistant", "content": [{"text": "hi"}]}], None, "must start with a user message"),
        ([user("a"), user("b")], None, "must alternate between user and assistant roles"),
        ([user(" ")], None, "is blank"),
        (
            [user("a"), CALLED_WEATHER, {"role": "user", "content": [{"toolResult": WEATHER_RESULT}]}],
            None,
            "toolConfig field must be defined",
        ),
        (
            [user("a"), CALLED_WEATHER, user("forgot the result")],
            {"tools": [WEATHER_TOOL]},
            "Expected toolResult blocks at messages.2.content for the following Ids: t1",
        ),
    ],
)  # fmt: skip
def test_conversation_shape_is_checked(runtime: Any, messages: Any, tool_config: Any, message: str) -> None:
    kwargs = {"toolConfig": tool_config} if tool_config else {}
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.converse(modelId=HAIKU, messages=messages, **kwargs)
    assert message in error_of(excinfo)[1]


@pytest.mark.parametrize(
    ("model_id", "inference", "message"),
    [
        (HAIKU, {"temperature": 1.5}, "at 'inferenceConfig.temperature' failed to satisfy constraint"),
        (HAIKU, {"maxTokens": 5000}, "exceeds the model limit of 4096"),
        (SONNET_45, {"temperature": 0.5, "topP": 0.9}, "`temperature` and `top_p` cannot both be specified"),
    ],
)
def test_inference_parameters_are_checked(runtime: Any, model_id: str, inference: Any, message: str) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.converse(modelId=model_id, messages=[user("hi")], inferenceConfig=inference)
    assert message in error_of(excinfo)[1]


def test_images_and_documents_are_described(runtime: Any) -> None:
    image = {"image": {"format": "png", "source": {"bytes": png()}}}
    document = {"document": {"format": "txt", "name": "notes (v2)", "source": {"bytes": b"meeting notes"}}}
    response = runtime.converse(modelId=HAIKU, messages=[user("What is this?", image, image, document)])
    assert text_of(response) == (
        f"I received 2 images (png, {len(png())} bytes; png, {len(png())} bytes) and 1 document "
        "(txt 'notes (v2)', 13 bytes). You said: \"What is this?\""
    )


@pytest.mark.parametrize(
    ("block", "model_id", "message"),
    [
        ({"image": {"format": "jpeg", "source": {"bytes": png()}}}, HAIKU, "appears to be a image/png image"),
        ({"image": {"format": "png", "source": {"bytes": b"not an image"}}}, HAIKU, "not a valid image"),
        (
            {"image": {"format": "png", "source": {"bytes": png()}}},
            "amazon.nova-micro-v1:0",
            "doesn't support the image",
        ),
        ({"document": {"format": "txt", "name": "notes.txt", "source": {"bytes": b"x"}}}, HAIKU, "document file name"),
    ],
)
def test_attachments_are_checked(runtime: Any, block: Any, model_id: str, message: str) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.converse(modelId=model_id, messages=[user("look", block)])
    assert message in error_of(excinfo)[1]


def test_json_is_returned_when_asked_for(runtime: Any) -> None:
    response = runtime.converse(modelId=HAIKU, messages=[user("Reply in JSON with the answer")])
    assert isinstance(json.loads(text_of(response)), dict)


def test_structured_output_satisfies_the_schema(runtime: Any) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 18}}}
    response = runtime.converse(
        modelId=SONNET_45,
        messages=[user("Extract the person")],
        outputConfig={
            "textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": json.dumps(schema)}}}
        },
    )
    assert json.loads(text_of(response)) == {"name": "name", "age": 18}


def thinking(budget: int = 2048) -> dict[str, Any]:
    return {"thinking": {"type": "enabled", "budget_tokens": budget}}


def test_thinking_signature_round_trips_through_tool_use(runtime: Any) -> None:
    tools = {"tools": [WEATHER_TOOL]}
    first = runtime.converse(
        modelId=SONNET_37,
        messages=[user("call get_weather")],
        toolConfig=tools,
        additionalModelRequestFields=thinking(),
    )
    assistant = first["output"]["message"]
    reasoning = assistant["content"][0]["reasoningContent"]["reasoningText"]
    assert reasoning["text"]
    assert reasoning["signature"]
    tool_id = next(b["toolUse"]["toolUseId"] for b in assistant["content"] if "toolUse" in b)
    result = {"role": "user", "content": [{"toolResult": {"toolUseId": tool_id, "content": [{"text": "sunny"}]}}]}
    history = [user("call get_weather"), assistant, result]
    second = runtime.converse(
        modelId=SONNET_37, messages=history, toolConfig=tools, additionalModelRequestFields=thinking()
    )
    assert "The get_weather tool returned: sunny" in text_of(second)

    without_thinking = {"role": "assistant", "content": assistant["content"][1:]}
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.converse(modelId=SONNET_37, messages=[history[0], without_thinking, result], toolConfig=tools,
                         additionalModelRequestFields=thinking())  # fmt: skip
    assert "Expected `thinking` or `redacted_thinking`" in error_of(excinfo)[1]

    reasoning["text"] += " (edited)"
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.converse(modelId=SONNET_37, messages=history, toolConfig=tools, additionalModelRequestFields=thinking())
    assert "Invalid `signature`" in error_of(excinfo)[1]


@pytest.mark.parametrize(
    ("extra", "inference", "message"),
    [
        (thinking(512), {}, "budget_tokens: Input should be greater than or equal to 1024"),
        (thinking(4096), {"maxTokens": 2048}, "`max_tokens` must be greater than `thinking.budget_tokens`"),
        (thinking(), {"temperature": 0.2}, "`temperature` may only be set to 1 when thinking is enabled"),
        ({"not_a_field": 1}, {}, "not_a_field: Extra inputs are not permitted"),
    ],
)
def test_claude_request_fields_are_checked(runtime: Any, extra: Any, inference: Any, message: str) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.converse(modelId=SONNET_37, messages=[user("hi")], additionalModelRequestFields=extra,
                         inferenceConfig=inference)  # fmt: skip
    assert message in error_of(excinfo)[1]


def test_usage_agrees_with_count_tokens(runtime: Any) -> None:
    request = {"messages": [user("How many tokens is this sentence, exactly?")], "system": [{"text": "Be brief."}]}
    counted = runtime.count_tokens(modelId=HAIKU, input={"converse": request})["inputTokens"]
    response = runtime.converse(modelId=HAIKU, **request)
    assert response["usage"]["inputTokens"] == counted
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.count_tokens(modelId="amazon.nova-lite-v1:0", input={"converse": request})


def test_cache_points_write_then_read(runtime: Any) -> None:
    system = [{"text": "A long shared system prompt for caching " * 20}, {"cachePoint": {"type": "default"}}]
    messages = [user("first question")]
    first = runtime.converse(modelId=SONNET_37, system=system, messages=messages)["usage"]
    second = runtime.converse(modelId=SONNET_37, system=system, messages=messages)["usage"]
    assert first["cacheWriteInputTokens"] > 0
    assert first["cacheReadInputTokens"] == 0
    assert second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]
    assert second["cacheWriteInputTokens"] == 0
    assert second["inputTokens"] == first["inputTokens"]
