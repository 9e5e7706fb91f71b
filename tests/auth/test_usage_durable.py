"""Durable usage (`usage_durable`): an answer, whole or streamed, is complete only once its usage row is committed,
so the row is there the moment the client has the answer, with no periodic flush due for a minute; a retried write
of the same row adds nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from quarry.store import open_database
from tests.auth.conftest import ADMIN

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


async def _rows(folder: Path, request_id: str) -> int:
    database = await open_database(None, folder)
    try:
        rows = await database.fetch("SELECT COUNT(*) AS n FROM usage WHERE request_id = ?", request_id)
    finally:
        await database.close()
    count: int = rows[0]["n"]
    return count


@pytest.fixture(scope="module")
def durable(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("usage-durable")
    settings = Settings(backend="emulator", api_key=ADMIN, data_dir=folder, usage_flush_s=60, usage_durable=True)  # type: ignore[arg-type]
    return serve(create_app(settings), lifespan="on").url, folder


@pytest.mark.parametrize("stream", [False, True])
def test_the_row_is_committed_before_the_answer_ends(durable: tuple[str, Path], stream: bool) -> None:
    url, folder = durable
    request_id = f"durable-{stream}"
    answer = httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {ADMIN}", "x-request-id": request_id},
        json={"model": HAIKU, "stream": stream, "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert answer.status_code == 200
    assert answer.text.rstrip().endswith("data: [DONE]") if stream else answer.json()["choices"]
    assert asyncio.run(_rows(folder, request_id)) == 1


def test_a_retried_write_adds_nothing(tmp_path: Path) -> None:
    async def insert_twice() -> int:
        database = await open_database(None, tmp_path)
        try:
            row = (1.5, 0, "retried", None, "openai", HAIKU, False, 200, None, 1, 1, 0, 0, 1.0, None, None)
            for _ in range(2):  # as when the first try committed but its answer was lost
                await database.executemany(
                    "INSERT INTO usage (at, day, request_id, key_id, api, model, stream, status, error_type,"
                    " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, latency_ms, ttft_ms,"
                    " cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [row],
                )
        finally:
            await database.close()
        return await _rows(tmp_path, "retried")

    assert asyncio.run(insert_twice()) == 1
