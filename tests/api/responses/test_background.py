"""`background: true`: answered at once as queued, polled until done, cancelled on request; a restart fails the
background responses it cut short instead of leaving them in progress for ever."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from quarry.api.responses import fail_unfinished
from quarry.store import open_database
from tests.api.conftest import HAIKU, KEY


def _poll(client: openai.OpenAI, response_id: str, *, until: set[str]) -> Any:
    deadline = time.monotonic() + 20
    while True:
        response = client.responses.retrieve(response_id)
        if response.status in until or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_background_response_is_queued_then_polled_to_completion(client: openai.OpenAI) -> None:
    made = client.responses.create(model=HAIKU, input="Say hello", background=True)
    assert made.status == "queued"
    assert made.background is True
    assert made.output == []
    done = _poll(client, made.id, until={"completed", "failed"})
    assert done.status == "completed"
    assert done.output_text
    assert done.usage is not None
    assert done.usage.output_tokens > 0


def test_cancel_stops_a_running_background_response(client: openai.OpenAI) -> None:
    made = client.responses.create(model=HAIKU, input="[[emulator: delay=5000]] slowly", background=True)
    running = _poll(client, made.id, until={"in_progress"})
    assert running.status == "in_progress"
    cancelled = client.responses.cancel(made.id)
    assert cancelled.status == "cancelled"
    time.sleep(0.2)
    assert client.responses.retrieve(made.id).status == "cancelled"


def test_only_background_responses_can_be_cancelled(client: openai.OpenAI) -> None:
    made = client.responses.create(model=HAIKU, input="hi")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(made.id)


def test_background_needs_store_and_no_stream(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=HAIKU, input="hi", background=True, store=False)
    assert caught.value.body["param"] == "store"  # type: ignore[index]


async def test_a_restart_fails_unfinished_background_responses(tmp_path: Path) -> None:
    database = await open_database(None, tmp_path)
    try:
        for status in ("queued", "in_progress", "completed"):
            body = {"id": f"resp_{status}", "status": status, "background": True, "output": [], "error": None}
            await database.execute(
                "INSERT INTO responses (id, key_id, created_at, expires_at, status, heartbeat_at, body, input_items)"
                " VALUES (?, 'k', 0, 9999999999, ?, 0, ?, '[]')",
                body["id"], status, json.dumps(body),
            )  # fmt: skip
        assert await fail_unfinished(database) == 2
        rows = await database.fetch("SELECT id, status FROM responses ORDER BY id")
        assert {row["id"]: row["status"] for row in rows} == {
            "resp_completed": "completed",
            "resp_in_progress": "failed",
            "resp_queued": "failed",
        }
    finally:
        await database.close()


def _usage_by_api(gateway: str) -> dict[str, Any]:
    answer = httpx.get(f"{gateway}/admin/usage", params={"by": "api"}, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200, answer.text
    return {row["api"]: row for row in answer.json()["data"]}


def test_usage_is_recorded_for_responses_and_their_background_work(gateway: str, client: openai.OpenAI) -> None:
    before = _usage_by_api(gateway)
    whole = client.responses.create(model=HAIKU, input="Count me", store=False)
    made = client.responses.create(model=HAIKU, input="Count me later", background=True)
    done = _poll(client, made.id, until={"completed", "failed"})
    assert whole.usage is not None
    assert done.usage is not None
    deadline = time.monotonic() + 5
    while True:  # the background work's record is written when its task ends, just after the store says completed
        after = _usage_by_api(gateway)
        grown = after.get("responses.background", {}).get("requests", 0) > before.get("responses.background", {}).get(
            "requests", 0
        )
        if grown or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert grown

    def tokens(report: dict[str, Any], api: str) -> int:
        row = report.get(api, {})
        return int(row.get("output_tokens", 0) or 0)

    assert tokens(after, "responses") - tokens(before, "responses") >= whole.usage.output_tokens
    assert tokens(after, "responses.background") - tokens(before, "responses.background") == done.usage.output_tokens


def _sse(gateway: str, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.stream(method, f"{gateway}/v1{path}", headers=headers, timeout=30, **kwargs) as answer:
        assert answer.status_code == 200, answer.read()
        return [json.loads(line[6:]) for line in answer.iter_lines() if line.startswith("data: ")]


def test_a_streamed_background_response_can_be_left_and_resumed(gateway: str, client: openai.OpenAI) -> None:
    with client.responses.create(
        model=HAIKU, input="[[emulator: words=40]] go", background=True, stream=True
    ) as stream:
        first = [next(iter(stream)) for _ in range(4)]  # leave after a few events: the response goes on
    response_id = first[0].response.id
    assert [event.sequence_number for event in first] == [0, 1, 2, 3]
    done = _poll(client, response_id, until={"completed", "failed"})
    assert done.status == "completed"
    rest = _sse(gateway, "GET", f"/responses/{response_id}", params={"stream": "true", "starting_after": 3})
    assert rest[0]["sequence_number"] == 4
    assert [event["sequence_number"] for event in rest] == list(range(4, 4 + len(rest)))
    assert rest[-1]["type"] == "response.completed"
    text = "".join(event["delta"] for event in rest if event["type"] == "response.output_text.delta")
    assert text
    assert done.output_text.endswith(text)
    whole = _sse(gateway, "GET", f"/responses/{response_id}", params={"stream": "true"})
    assert [event["sequence_number"] for event in whole] == list(range(len(whole)))


def test_a_stream_that_is_not_here_cannot_be_resumed(client: openai.OpenAI) -> None:
    made = client.responses.create(model=HAIKU, input="hi")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.retrieve(made.id, stream=True)
    assert caught.value.body["code"] == "stream_unavailable"  # type: ignore[index]
