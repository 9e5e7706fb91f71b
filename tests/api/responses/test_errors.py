"""Bad requests to /v1/responses: 400 in OpenAI's envelope naming the field at fault, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import HAIKU, KEY


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": HAIKU, "input": 5}, "input"),
        ({"model": HAIKU, "input": [5]}, "input[0]"),
        ({"model": HAIKU, "input": [{"role": "robot", "content": "hi"}]}, "input[0].role"),
        ({"model": HAIKU, "input": [{"role": "user", "content": 7}]}, "input[0].content"),
        ({"model": HAIKU, "input": [{"role": "user", "content": [{"type": "input_text", "text": 1}]}]},
         "input[0].content[0].text"),
        ({"model": HAIKU, "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
         "input[0].content[0].image_url"),
        ({"model": HAIKU, "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
         "input[0].content[0].file_id"),
        ({"model": HAIKU, "input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0]"),
        ({"model": HAIKU, "input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
        ({"model": HAIKU, "input": [{"type": "computer_call_output", "call_id": "c"}]}, "input[0].type"),
        ({"model": HAIKU, "input": [{"type": "reasoning", "encrypted_content": "forged"}]},
         "input[0].encrypted_content"),
        ({"model": HAIKU, "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": HAIKU, "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": "x"}]},
         "tools[0].parameters"),
        ({"model": HAIKU, "input": "hi", "tools": "x"}, "tools"),
        ({"model": HAIKU, "input": "hi", "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": HAIKU, "input": "hi", "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice"),
        # Sonnet 5.5 refuses a forced tool: said as on chat completions, not as the upstream's error about thinking.
        ({"model": "claude-sonnet-5-5", "input": "hi", "tools": [{"type": "function", "name": "f"}],
          "tool_choice": "required"}, "tool_choice"),
        ({"model": "claude-sonnet-5-5", "input": "hi", "tools": [{"type": "function", "name": "f"}],
          "tool_choice": {"type": "function", "name": "f"}}, "tool_choice"),
        ({"model": HAIKU, "input": "hi", "text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"model": HAIKU, "input": "hi", "text": {"format": {"type": "json_schema", "name": "x"}}},
         "text.format.schema"),
        ({"model": HAIKU, "input": "hi", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"model": HAIKU, "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": HAIKU, "input": "hi", "temperature": "hot"}, "temperature"),
        ({"model": HAIKU, "input": "hi", "metadata": {"a": 1}}, "metadata.a"),
        ({"model": HAIKU, "input": "hi", "stream": "yes"}, "stream"),
        ({"model": HAIKU, "input": "hi", "background": True, "store": False}, "store"),
        ({"model": HAIKU, "input": "hi", "background": "yes"}, "background"),
        ({"model": HAIKU, "input": "hi", "conversation": "thread_1"}, "conversation"),  # not a conv_ id
        ({"model": HAIKU, "input": [{"type": "function_call_output", "call_id": "c",
                                     "output": [{"type": "input_text"}]}]}, "input[0].output[0].text"),
        ({"model": HAIKU, "input": [{"type": "function_call_output", "call_id": "c", "output": 3}]}, "input[0].output"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_field(gateway: str, body: dict[str, Any], param: str) -> None:
    answer = httpx.post(f"{gateway}/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_unknown_fields_are_ignored(gateway: str) -> None:
    body = {
        "model": HAIKU, "input": "hi", "store": False, "client_metadata": {"x": 1}, "prompt_cache_key": "k",
        "service_tier": "auto", "safety_identifier": "u1", "user": "me", "truncation": "auto", "novel": [1],
    }  # fmt: skip
    answer = httpx.post(f"{gateway}/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "completed"


def test_errors_without_a_key_and_for_unknown_models(gateway: str) -> None:
    unauthorised = httpx.post(f"{gateway}/api/v1/responses", json={"model": HAIKU, "input": "hi"})
    assert unauthorised.status_code == 401
    assert unauthorised.json()["error"]["type"] == "authentication_error"
    missing = httpx.post(
        f"{gateway}/v1/responses",
        json={"model": "no-such-model", "input": "hi"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"
