"""The Claude models of late 2026 through boto3: each model's rules on InvokeModel and Converse, whole and streamed
(docs/bedrock-models-2026.md §1.3-1.5), effort visible in the answer, structured output, and `HEAD /`."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
from botocore.exceptions import ClientError

from quarry.emulator._catalog import Catalog
from quarry.emulator._claude import ClaudeRuleError, check_claude_request
from tests.emulator.test_converse import error_of

OPUS_46 = "global.anthropic.claude-opus-4-6-v1"
OPUS_47 = "us.anthropic.claude-opus-4-7"
OPUS_48 = "us.anthropic.claude-opus-4-8"
OPUS_5 = "us.anthropic.claude-opus-5"
FABLE_51 = "us.anthropic.claude-fable-5-1"
OPUS_55 = "us.anthropic.claude-opus-5-5"
SONNET_55 = "us.anthropic.claude-sonnet-5-5"
HAIKU_55 = "us.anthropic.claude-haiku-5-5"
SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"
WAYS = ("invoke", "invoke-stream", "converse", "converse-stream")
TOOL = {"name": "lookup", "description": "Find a word", "input_schema": {"type": "object", "properties": {}}}
PREFIX = "The model returned the following errors: "


@dataclass
class Answer:
    """An answer reduced to what the tests compare, whichever API it came through."""

    blocks: list[dict[str, Any]] = field(default_factory=list)  # {"type", "text", "signature"} or tool_use
    output_tokens: int = 0
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def thinking(self) -> dict[str, Any] | None:
        return next((b for b in self.blocks if b["type"] == "thinking"), None)

    @property
    def text(self) -> str:
        return "".join(b["text"] for b in self.blocks if b["type"] == "text")


def body(text: str = "Hello", **fields: Any) -> dict[str, Any]:
    """An Anthropic Messages body for InvokeModel."""
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 4000,
        "messages": [{"role": "user", "content": text}],
        **fields,
    }


def _converse_content(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    out: list[dict[str, Any]] = []
    for block in content:
        if block["type"] == "text":
            out.append({"text": block["text"]})
        elif block["type"] == "thinking":
            out.append(
                {"reasoningContent": {"reasoningText": {"text": block["text"], "signature": block["signature"]}}}
            )
        elif block["type"] == "tool_use":
            out.append({"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block["input"]}})
        elif block["type"] == "tool_result":
            out.append({"toolResult": {"toolUseId": block["tool_use_id"], "content": [{"text": block["content"]}]}})
    return out


def converse_request(model: str, anthropic: dict[str, Any]) -> dict[str, Any]:
    """The same request in Converse's shape: thinking in additionalModelRequestFields, effort in outputConfig."""
    request: dict[str, Any] = {
        "modelId": model,
        "messages": [{"role": m["role"], "content": _converse_content(m["content"])} for m in anthropic["messages"]],
        "inferenceConfig": {"maxTokens": anthropic["max_tokens"]},
    }
    for source, target in (("temperature", "temperature"), ("top_p", "topP")):
        if source in anthropic:
            request["inferenceConfig"][target] = anthropic[source]
    extra = {k: anthropic[k] for k in ("thinking", "top_k") if k in anthropic}
    if extra:
        request["additionalModelRequestFields"] = extra
    output_config = anthropic.get("output_config", {})
    if "effort" in output_config:
        request["outputConfig"] = {"effort": output_config["effort"]}
    if "format" in output_config:
        schema = json.dumps(output_config["format"]["schema"])
        text_format = {"type": "json_schema", "structure": {"jsonSchema": {"schema": schema, "name": "answer"}}}
        request.setdefault("outputConfig", {})["textFormat"] = text_format
    if "tools" in anthropic:
        tools = [
            {
                "toolSpec": {
                    "name": t["name"],
                    "description": t["description"],
                    "inputSchema": {"json": t["input_schema"]},
                }
            }
            for t in anthropic["tools"]
        ]
        choice = anthropic.get("tool_choice", {"type": "auto"})
        tool_choice = {"tool": {"name": choice["name"]}} if choice["type"] == "tool" else {choice["type"]: {}}
        request["toolConfig"] = {"tools": tools, "toolChoice": tool_choice}
    return request


def _from_anthropic(message: dict[str, Any]) -> Answer:
    blocks = []
    for block in message["content"]:
        if block["type"] == "thinking":
            blocks.append({"type": "thinking", "text": block["thinking"], "signature": block["signature"]})
        else:
            blocks.append(block)
    return Answer(blocks, message["usage"]["output_tokens"], message["usage"])


def _from_converse(message: dict[str, Any], usage: dict[str, Any]) -> Answer:
    blocks: list[dict[str, Any]] = []
    for block in message["content"]:
        if "reasoningContent" in block:
            reasoning = block["reasoningContent"]["reasoningText"]
            blocks.append({"type": "thinking", "text": reasoning["text"], "signature": reasoning["signature"]})
        elif "text" in block:
            blocks.append({"type": "text", "text": block["text"]})
        elif "toolUse" in block:
            use = block["toolUse"]
            blocks.append({"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": use["input"]})
    return Answer(blocks, usage["outputTokens"], usage)


def _invoke_stream(runtime: Any, model: str, anthropic: dict[str, Any]) -> Answer:
    response = runtime.invoke_model_with_response_stream(modelId=model, body=json.dumps(anthropic))
    events = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    message = events[0]["message"] | {"content": []}
    for event in events[1:]:
        if event["type"] == "content_block_start":
            message["content"].append(event["content_block"])
        elif event["type"] == "content_block_delta":
            block, delta = message["content"][event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            else:
                block["partial"] = block.get("partial", "") + delta["partial_json"]
        elif event["type"] == "message_delta":
            message["usage"] = message["usage"] | event["usage"]
    for block in message["content"]:
        if block["type"] == "tool_use":
            block["input"] = json.loads(block.pop("partial", "{}"))
    return _from_anthropic(message)


def _converse_stream(runtime: Any, request: dict[str, Any]) -> Answer:
    events = list(runtime.converse_stream(**request)["stream"])
    blocks: dict[int, dict[str, Any]] = {}
    for event in events:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = start["start"]["toolUse"]
            blocks[start["contentBlockIndex"]] = {"type": "tool_use", "id": use["toolUseId"], "name": use["name"],
                                                  "partial": ""}  # fmt: skip
        if "contentBlockDelta" in event:
            index, delta = event["contentBlockDelta"]["contentBlockIndex"], event["contentBlockDelta"]["delta"]
            if "text" in delta:
                blocks.setdefault(index, {"type": "text", "text": ""})["text"] += delta["text"]
            elif "reasoningContent" in delta:
                block = blocks.setdefault(index, {"type": "thinking", "text": "", "signature": ""})
                block["text"] += delta["reasoningContent"].get("text", "")
                block["signature"] += delta["reasoningContent"].get("signature", "")
            else:
                blocks[index]["partial"] += delta["toolUse"]["input"]
    for block in blocks.values():
        if block["type"] == "tool_use":
            block["input"] = json.loads(block.pop("partial") or "{}")
    usage = events[-1]["metadata"]["usage"]
    return Answer([blocks[i] for i in sorted(blocks)], usage["outputTokens"], usage)


def ask(runtime: Any, way: str, model: str, anthropic: dict[str, Any]) -> Answer:
    """One request, through InvokeModel(WithResponseStream) or Converse(Stream)."""
    if way == "invoke":
        response = runtime.invoke_model(modelId=model, body=json.dumps(anthropic))
        return _from_anthropic(json.loads(response["body"].read()))
    if way == "invoke-stream":
        return _invoke_stream(runtime, model, anthropic)
    request = converse_request(model, anthropic)
    if way == "converse":
        response = runtime.converse(**request)
        return _from_converse(response["output"]["message"], response["usage"])
    return _converse_stream(runtime, request)


def refused(runtime: Any, way: str, model: str, anthropic: dict[str, Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as excinfo:
        ask(runtime, way, model, anthropic)
    return error_of(excinfo)


ENABLED = (
    '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
    '"output_config.effort" to control thinking behavior.'
)
ALWAYS_ON = (
    '"thinking.type.disabled" is not supported for this model. Thinking is always on; use '
    '"output_config.effort" to control thinking behavior.'
)
BETWEEN_TOOLS = (
    '"thinking.type.disabled" is not supported for this model. Use "thinking.type.between_tools" for the least '
    'thinking, and "output_config.effort" to control thinking behavior.'
)
PREFILL = "This model does not support assistant message prefill. The conversation must end with a user message."
PREFILLED = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure,"}]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(
    ("model", "fields", "detail"),
    [
        pytest.param(OPUS_47, {"thinking": {"type": "enabled", "budget_tokens": 2048}}, ENABLED, id="enabled-opus47"),
        pytest.param(OPUS_5, {"thinking": {"type": "enabled", "budget_tokens": 2048}}, ENABLED, id="enabled-opus5"),
        pytest.param(OPUS_55, {"thinking": {"type": "disabled"}}, ALWAYS_ON, id="disabled-opus55"),
        pytest.param(FABLE_51, {"thinking": {"type": "disabled"}}, ALWAYS_ON, id="disabled-fable51"),
        pytest.param(SONNET_55, {"thinking": {"type": "disabled"}}, BETWEEN_TOOLS, id="disabled-sonnet55"),
        pytest.param(
            SONNET_55,
            {"thinking": {"type": "between_tools"}, "output_config": {"effort": "xhigh"}},
            'output_config.effort: "xhigh" is not available with "thinking.type.between_tools"; use an effort of at '
            'most "high" or "thinking.type.adaptive".',
            id="between-tools-xhigh",
        ),
        pytest.param(
            OPUS_5,
            {"thinking": {"type": "disabled"}, "output_config": {"effort": "max"}},
            'output_config.effort: "max" requires thinking; with "thinking.type.disabled" the effort can be at most '
            '"high".',
            id="disabled-max-opus5",
        ),
        pytest.param(
            HAIKU_55,
            {"thinking": {"type": "disabled"}, "output_config": {"effort": "xhigh"}},
            'output_config.effort: "xhigh" requires thinking; with "thinking.type.disabled" the effort can be at most '
            '"high".',
            id="disabled-xhigh-haiku55",
        ),
        pytest.param(
            OPUS_48,
            {"thinking": {"type": "adaptive", "budget_tokens": 2048}},
            "thinking.adaptive.budget_tokens: Extra inputs are not permitted",
            id="adaptive-budget",
        ),
        pytest.param(
            SONNET_45,
            {"thinking": {"type": "adaptive"}},
            "adaptive thinking is not supported on this model",
            id="adaptive-sonnet45",
        ),
        pytest.param(
            OPUS_48,
            {"output_config": {"effort": "extreme"}},
            "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'",
            id="effort-unknown",
        ),
        pytest.param(
            OPUS_46,
            {"output_config": {"effort": "xhigh"}},
            "output_config.effort: Input should be 'low', 'medium', 'high' or 'max'",
            id="effort-xhigh-opus46",
        ),
        pytest.param(
            SONNET_45,
            {"output_config": {"effort": "high"}},
            "output_config.effort: Extra inputs are not permitted",
            id="effort-sonnet45",
        ),
        pytest.param(OPUS_47, {"temperature": 0.5}, "`temperature` is deprecated for this model.", id="temperature"),
        pytest.param(OPUS_55, {"top_p": 0.9}, "`top_p` is deprecated for this model.", id="top-p"),
        pytest.param(HAIKU_55, {"top_k": 5}, "`top_k` is deprecated for this model.", id="top-k"),
        pytest.param(OPUS_46, {"messages": PREFILLED}, PREFILL, id="prefill-opus46"),
        pytest.param(OPUS_55, {"messages": PREFILLED}, PREFILL, id="prefill-opus55"),
        pytest.param(
            OPUS_55,
            {"tools": [TOOL], "tool_choice": {"type": "any"}},
            "Thinking may not be enabled when tool_choice forces tool use.",
            id="forced-any-opus55",
        ),
        pytest.param(
            SONNET_55,
            {"tools": [TOOL], "tool_choice": {"type": "tool", "name": "lookup"}},
            "Thinking may not be enabled when tool_choice forces tool use.",
            id="forced-tool-sonnet55",
        ),
    ],
)
def test_each_models_rules_are_enforced(runtime: Any, way: str, model: str, fields: Any, detail: str) -> None:
    assert refused(runtime, way, model, body(**fields)) == ("ValidationException", PREFIX + detail, 400)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(
    ("model", "fields"),
    [
        pytest.param(OPUS_47, {"temperature": 1.0, "top_p": 1}, id="default-sampling"),
        pytest.param(OPUS_5, {"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}, id="opus5-off"),
        pytest.param(HAIKU_55, {"thinking": {"type": "disabled"}}, id="haiku55-off"),
        pytest.param(SONNET_55, {"thinking": {"type": "between_tools"}, "output_config": {"effort": "high"}}, id="bt"),
        pytest.param(OPUS_48, {"tools": [TOOL], "tool_choice": {"type": "any"}}, id="forced-opus48"),
        pytest.param(SONNET_45, {"messages": PREFILLED}, id="prefill-sonnet45"),
        pytest.param(SONNET_45, {"thinking": {"type": "enabled", "budget_tokens": 1024}}, id="enabled-sonnet45"),
        pytest.param(OPUS_46, {"thinking": {"type": "enabled", "budget_tokens": 1024}}, id="enabled-opus46"),
    ],
)
def test_what_the_rules_allow_is_answered(runtime: Any, way: str, model: str, fields: Any) -> None:
    answer = ask(runtime, way, model, body(**fields))
    assert answer.blocks
    no_thinking = fields.get("thinking", {}).get("type") in ("disabled", "between_tools")
    if no_thinking:  # between_tools thinks only after tool results
        assert answer.thinking is None


@pytest.mark.parametrize("way", WAYS)
def test_models_that_think_by_default_sign_omitted_thinking(runtime: Any, way: str) -> None:
    for model in (OPUS_5, HAIKU_55, OPUS_55, FABLE_51, SONNET_55):
        thinking = ask(runtime, way, model, body()).thinking
        assert thinking is not None, model
        assert thinking["text"] == ""  # `display` is omitted by default on 4.7+ (doc §1.3)
        assert thinking["signature"]
    assert ask(runtime, way, OPUS_48, body()).thinking is None  # Opus 4.8 thinks only when asked
    assert ask(runtime, way, SONNET_45, body()).thinking is None


@pytest.mark.parametrize("way", WAYS)
def test_effort_shows_in_the_thinking_and_the_output_tokens(runtime: Any, way: str) -> None:
    tokens = []
    for effort in ("low", "medium", "high", "xhigh", "max"):
        fields = {"output_config": {"effort": effort}, "thinking": {"type": "adaptive", "display": "summarized"}}
        answer = ask(runtime, way, OPUS_5, body("Tell me about quarries", **fields))
        assert answer.thinking is not None
        assert f"at {effort} effort" in answer.thinking["text"]
        tokens.append(answer.output_tokens)
    assert tokens == sorted(tokens)
    assert len(set(tokens)) == 5
    # Omitted thinking is billed all the same, and a model's default effort is the one it works at.
    hidden = ask(runtime, way, OPUS_5, body("Tell me about quarries", output_config={"effort": "low"}))
    assert hidden.thinking is not None
    assert hidden.thinking["text"] == ""
    assert hidden.output_tokens == tokens[0]
    default = ask(runtime, way, OPUS_55, body("Tell me about quarries"))
    medium = ask(runtime, way, OPUS_55, body("Tell me about quarries", output_config={"effort": "medium"}))
    assert default.output_tokens == medium.output_tokens


def test_converse_takes_effort_in_either_place(runtime: Any) -> None:
    request = converse_request(OPUS_5, body("Tell me about quarries", output_config={"effort": "max"}))
    first = runtime.converse(**request)["usage"]["outputTokens"]
    del request["outputConfig"]
    request["additionalModelRequestFields"] = {"output_config": {"effort": "max"}}
    assert runtime.converse(**request)["usage"]["outputTokens"] == first
    invoked = ask(runtime, "invoke", OPUS_5, body("Tell me about quarries", output_config={"effort": "max"}))
    assert invoked.output_tokens == first


@pytest.mark.parametrize("way", ["invoke", "converse"])
def test_omitted_thinking_round_trips_through_tool_use(runtime: Any, way: str) -> None:
    fields = {"tools": [TOOL], "thinking": {"type": "adaptive"}}
    first = ask(runtime, way, OPUS_47, body("lookup quarry", **fields))
    assert [b["type"] for b in first.blocks] == ["thinking", "text", "tool_use"]
    call = first.blocks[-1]
    content = [b if b["type"] != "thinking" else {"type": "thinking", "thinking": "", "signature": b["signature"]}
               for b in first.blocks]  # fmt: skip
    if way == "converse":
        content = first.blocks
    history = [
        {"role": "user", "content": "lookup quarry"},
        {"role": "assistant", "content": content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "a pit"}]},
    ]
    second = ask(runtime, way, OPUS_47, body(**fields, messages=history))
    assert "The lookup tool returned: a pit" in second.text
    history[1]["content"] = [b for b in content if b["type"] != "thinking"]
    _code, message, _status = refused(runtime, way, OPUS_47, body(**fields, messages=history))
    assert "Expected `thinking` or `redacted_thinking`" in message


def test_between_tools_thinks_after_tool_results_only(runtime: Any) -> None:
    fields = {"tools": [TOOL], "thinking": {"type": "between_tools"}, "output_config": {"effort": "low"}}
    first = ask(runtime, "invoke", SONNET_55, body("lookup quarry", **fields))
    assert first.thinking is None
    call = first.blocks[-1]
    history = [
        {"role": "user", "content": "lookup quarry"},
        {"role": "assistant", "content": first.blocks},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "a pit"}]},
    ]
    assert ask(runtime, "invoke", SONNET_55, body(**fields, messages=history)).thinking is not None


SYSTEM_TURN = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "system", "content": "Answer briefly from now on."},
    {"role": "user", "content": "And now?"},
]


@pytest.mark.parametrize("way", WAYS)
def test_mid_conversation_system_messages_on_the_models_that_take_them(runtime: Any, way: str) -> None:
    answer = ask(runtime, way, OPUS_48, body(messages=SYSTEM_TURN))
    assert answer.text == 'You said: "And now?"'
    code, message, status = refused(runtime, way, OPUS_47, body(messages=SYSTEM_TURN))
    assert (code, status) == ("ValidationException", 400)
    if way.startswith("invoke"):
        assert message == PREFIX + "role 'system' is not supported on this model"
    else:
        assert message == (
            "1 validation error detected: Value 'system' at 'messages.2.member.role' failed to satisfy constraint: "
            "Member must satisfy enum value set: [user, assistant]"
        )


def test_converse_tool_additions_belong_in_system_messages(runtime: Any) -> None:
    addition = {"toolAddition": {"tool": {"type": "custom", "name": "lookup"}}}
    messages = [
        {"role": "user", "content": [{"text": "Hi"}]},
        {"role": "assistant", "content": [{"text": "Hello."}]},
        {"role": "system", "content": [{"text": "A new tool."}, addition]},
        {"role": "user", "content": [{"text": "Go on"}]},
    ]
    assert runtime.converse(modelId=OPUS_55, messages=messages)["stopReason"] == "end_turn"
    messages[3]["content"].append(addition)
    with pytest.raises(ClientError) as excinfo:
        runtime.converse(modelId=OPUS_55, messages=messages)
    assert error_of(excinfo)[1] == "The toolAddition block at messages.3.content.1 can only appear in a system message."


@pytest.mark.parametrize("way", ["invoke", "converse"])
def test_cache_points_below_the_models_minimum_cache_nothing(runtime: Any, way: str) -> None:
    def cached(model: str, text: str) -> Answer:
        content = [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]
        anthropic = body(messages=[{"role": "user", "content": content}])
        if way == "invoke":
            return ask(runtime, way, model, anthropic)
        request = converse_request(model, anthropic)
        request["messages"][0]["content"].append({"cachePoint": {"type": "default"}})
        response = runtime.converse(**request)
        return Answer([], response["usage"]["outputTokens"], response["usage"])

    short = cached(OPUS_48, f"A short prompt for {way}, under 4,096 tokens.").usage
    assert short.get("cache_creation_input_tokens", 0) == 0
    assert short.get("cacheWriteInputTokens", 0) == 0
    assert short.get("cache_read_input_tokens", 0) == 0
    assert short.get("cacheReadInputTokens", 0) == 0
    long = cached(OPUS_48, f"{way} " + "quarry stone " * 3000).usage
    assert long.get("cache_creation_input_tokens", long.get("cacheWriteInputTokens", 0)) >= 4096
    old = cached(SONNET_45, f"A short prompt for {way} on an older model.").usage  # no minimum, as before
    assert old.get("cache_creation_input_tokens", old.get("cacheWriteInputTokens", 0)) > 0


SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 3},
        "count": {"type": "integer", "minimum": 2, "maximum": 9},
        "ratio": {"type": "number", "exclusiveMaximum": 1},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 2, "maxItems": 3},
        "when": {"type": "string", "format": "date"},
        "nested": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
    },
    "required": ["name", "count", "ratio", "tags", "nested"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("model", [OPUS_55, SONNET_45])
def test_structured_output_is_json_valid_against_the_schema(runtime: Any, way: str, model: str) -> None:
    fields = {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}
    answer = ask(runtime, way, model, body("Describe a quarry", **fields))
    jsonschema.validate(json.loads(answer.text), SCHEMA)


@pytest.mark.parametrize("way", ["invoke", "converse"])
def test_structured_output_is_refused_by_models_without_it(runtime: Any, way: str) -> None:
    fields = {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}
    code, message, status = refused(runtime, way, HAIKU_3, body(**fields))
    assert (code, status) == ("ValidationException", 400)
    if way == "invoke":
        assert message == PREFIX + "output_config.format: Extra inputs are not permitted"
    else:
        assert message == "This model doesn't support structured outputs with outputConfig.textFormat."


def test_head_of_the_root_answers_200(emulator_url: str) -> None:
    request = urllib.request.Request(emulator_url + "/", method="HEAD")
    with urllib.request.urlopen(request) as response:  # the test's own emulator
        assert response.status == 200
        assert response.read() == b""


def test_the_rules_are_one_function_for_any_route() -> None:
    """The Messages route calls check_claude_request(model, body) and gets InvokeModel's refusals and settings."""
    models = Catalog.load().models
    with pytest.raises(ClaudeRuleError) as excinfo:
        check_claude_request(
            models["anthropic.claude-opus-4-7"], body(thinking={"type": "enabled", "budget_tokens": 2048})
        )
    assert excinfo.value.detail == ENABLED
    assert (excinfo.value.code, excinfo.value.status) == ("ValidationException", 400)
    request = check_claude_request(models["anthropic.claude-opus-5-5"], body())
    assert (request.thinking, request.effort, request.display) == ("adaptive", "medium", "omitted")
