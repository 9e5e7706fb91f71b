"""Claude's signed thinking as reasoning items: sealed for stateless clients (`store: false` with
`include: ["reasoning.encrypted_content"]`, as Codex calls), so thinking goes on across tool turns; an altered item
is a 400."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.api.conftest import SONNET_37
from tests.api.responses.test_create import WEATHER

INCLUDE: Any = ["reasoning.encrypted_content"]


def _first_turn(client: openai.OpenAI) -> tuple[list[Any], Any]:
    conversation: list[Any] = [{"role": "user", "content": "Use get_weather for Paris"}]
    first = client.responses.create(
        model=SONNET_37,
        input=conversation,
        tools=[WEATHER],
        reasoning={"effort": "medium"},
        store=False,
        include=INCLUDE,
    )
    return conversation, first


def test_encrypted_reasoning_round_trips_through_a_tool_turn(client: openai.OpenAI) -> None:
    conversation, first = _first_turn(client)
    kinds = [item.type for item in first.output]
    assert kinds[0] == "reasoning"
    assert "function_call" in kinds
    reasoning = first.output[0]
    assert reasoning.encrypted_content
    assert reasoning.content is not None
    assert reasoning.content[0].text not in reasoning.encrypted_content  # sealed, not merely encoded
    call = next(item for item in first.output if item.type == "function_call")
    conversation += [item.model_dump(exclude_none=True) for item in first.output]
    conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": '{"t": 21}'})
    second = client.responses.create(
        model=SONNET_37,
        input=conversation,
        tools=[WEATHER],
        reasoning={"effort": "medium"},
        store=False,
        include=INCLUDE,
    )
    # The emulator checks signatures as Claude does: thinking goes on only if the signed block came back intact.
    assert second.output[0].type == "reasoning"
    assert second.output_text == 'The get_weather tool returned: {"t": 21}'


@pytest.mark.parametrize("alter", ["flip", "truncate", "foreign"])
def test_an_altered_reasoning_item_is_a_400(client: openai.OpenAI, alter: str) -> None:
    conversation, first = _first_turn(client)
    items = [item.model_dump(exclude_none=True) for item in first.output]
    sealed: str = items[0]["encrypted_content"]
    if alter == "flip":
        position = len(sealed) // 2
        items[0]["encrypted_content"] = (
            sealed[:position] + ("A" if sealed[position] != "A" else "B") + sealed[position + 1 :]
        )
    elif alter == "truncate":
        items[0]["encrypted_content"] = sealed[:-8]
    else:
        items[0]["encrypted_content"] = "gAAAAABfake-from-another-server"
    call = next(item for item in first.output if item.type == "function_call")
    conversation += items
    conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": "{}"})
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=SONNET_37, input=conversation, tools=[WEATHER], store=False)
    body: Any = caught.value.body
    assert body["param"] == "input[1].encrypted_content"
    assert body["code"] == "invalid_encrypted_content"
