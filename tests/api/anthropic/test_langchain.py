"""LangChain's ChatAnthropic, with its defaults, on Claude Opus 5.5 through `/v1/messages` (issue 16): adaptive
thinking that is always on, a tool round trip that must carry the signed thinking back, and a stream."""

from __future__ import annotations

from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from tests.api.conftest import KEY


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def _llm(gateway: str, **options: object) -> ChatAnthropic:
    return ChatAnthropic(model="claude-opus-5-5", base_url=gateway, api_key=KEY, max_retries=0, **options)  # type: ignore[arg-type, call-arg]


def _kinds(message: AIMessage) -> list[str]:
    return [block["type"] for block in message.content if isinstance(block, dict)]


def test_chat_anthropic_on_opus_55_thinks_and_answers(gateway: str) -> None:
    answer = _llm(gateway).invoke("Hi")
    # Opus 5.5 always thinks; its thinking text is omitted by default but its block and signature come back.
    assert _kinds(answer) == ["thinking", "text"]
    assert answer.text == 'You said: "Hi"'
    assert answer.response_metadata["model_name"] == "claude-opus-5-5"  # the name asked for, echoed


def test_chat_anthropic_tool_round_trip_keeps_the_signed_thinking(gateway: str) -> None:
    llm = _llm(gateway).bind_tools([get_weather])
    messages: list[object] = [HumanMessage("Use get_weather for Lisbon")]
    first = llm.invoke(messages)  # type: ignore[arg-type]
    assert first.tool_calls
    assert first.tool_calls[0]["name"] == "get_weather"
    assert _kinds(first)[0] == "thinking"
    call = first.tool_calls[0]
    messages += [first, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])]
    second = llm.invoke(messages)  # type: ignore[arg-type]
    assert second.text.startswith("The get_weather tool returned: sunny in")


def test_chat_anthropic_streams_at_an_effort(gateway: str) -> None:
    llm = _llm(gateway, streaming=True, output_config={"effort": "low"})
    text = "".join(chunk.text for chunk in llm.stream("[[emulator: words=20]]"))
    assert len(text.split()) == 20
