"""LangChain's ChatOpenAI, a second real client, with tools, through the gateway."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.api.conftest import HAIKU, KEY


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def test_chat_openai_with_tools_round_trip(gateway: str) -> None:
    llm = ChatOpenAI(model=HAIKU, base_url=f"{gateway}/v1", api_key=KEY, max_retries=0)  # type: ignore[arg-type]
    with_tools = llm.bind_tools([get_weather])
    messages: list[object] = [HumanMessage("Use get_weather for Lisbon")]
    first = with_tools.invoke(messages)  # type: ignore[arg-type]
    assert first.tool_calls
    assert first.tool_calls[0]["name"] == "get_weather"
    call = first.tool_calls[0]
    messages += [first, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])]
    second = with_tools.invoke(messages)  # type: ignore[arg-type]
    assert str(second.content).startswith("The get_weather tool returned: sunny in")


def test_chat_openai_streams(gateway: str) -> None:
    llm = ChatOpenAI(model=HAIKU, base_url=f"{gateway}/v1", api_key=KEY, max_retries=0, streaming=True)  # type: ignore[arg-type]
    pieces = [chunk.content for chunk in llm.stream("[[emulator: words=30]]")]
    assert len(pieces) > 10
    assert len("".join(str(p) for p in pieces).split()) == 30


def test_chat_openai_on_opus_55_out_of_the_box(gateway: str) -> None:
    # LangChain's own examples set temperature=0, which Opus 5.5 refuses: Quarry drops it and says so.
    llm = ChatOpenAI(
        model="claude-opus-5-5",
        temperature=0,
        base_url=f"{gateway}/v1",
        api_key=KEY,  # type: ignore[arg-type]
        max_retries=0,
        include_response_headers=True,
    )
    answer = llm.invoke("Hi")
    assert answer.content == 'You said: "Hi"'
    assert answer.response_metadata["headers"]["x-quarry-dropped-params"] == "temperature"
    first = llm.bind_tools([get_weather]).invoke("Use get_weather for Lisbon")
    assert first.tool_calls
    assert first.tool_calls[0]["name"] == "get_weather"
    pieces = [chunk.content for chunk in llm.stream("[[emulator: words=12]]")]
    assert len("".join(str(p) for p in pieces).split()) == 12
