"""`quarry serve --workers N` as a real process tree: N workers on one port, the banner once, every answered call
with its usage row in the embedded SQLite store after SIGTERM, a killed worker replaced, one "stopped" line; and
the start-up error without Redis (per-key limits would otherwise be per worker)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import psutil
import pytest

from tests.auth.conftest import Served
from tests.conftest import offline_environment
from tests.test_serve_cli import QUARRY

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def test_many_workers_without_redis_is_refused_at_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [*QUARRY, "serve", "--port", "0", "--workers", "2"],
        capture_output=True,
        text=True,
        env=offline_environment(tmp_path) | {"QUARRY_BACKEND": "emulator"},
        timeout=60,
    )
    assert done.returncode == 2
    assert "--workers 2 needs QUARRY_REDIS_URL" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was opened


@pytest.fixture
def workers(tmp_path: Path, redis_url: str) -> Iterator[tuple[Served, subprocess.Popen[str]]]:
    # Durable usage: every answer's row is committed before its last bytes, so a worker killed at any moment
    # loses none (off by default on SQLite, for its cost there).
    env = {
        "QUARRY_REDIS_URL": redis_url,
        "QUARRY_UI__ENABLED": "false",
        "QUARRY_USAGE_FLUSH_S": "0.2",
        "QUARRY_USAGE_DURABLE": "true",
    }
    served = Served(env, tmp_path)  # its port and environment; started here with --workers
    with served.log.open("a") as log:
        process = subprocess.Popen(
            [*QUARRY, "serve", "--port", str(served.port), "--workers", "2"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=served.env,
        )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # the banner's first line, once the first worker has started
        assert first.startswith(f"Quarry {served.url}"), first + served.log.read_text()[-2000:]
        yield served, process
    finally:
        if process.poll() is None:  # the test failed half-way: the workers, then the supervisor
            for child in psutil.Process(process.pid).children():
                child.kill()
            process.kill()
            process.wait(20)
        if process.stdout is not None:
            process.stdout.close()


def _chat(url: str, n: int) -> list[str]:
    def one(i: int) -> str:
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": f"call {i}"}]
        )
        assert raw.parse().choices[0].message.content
        return raw.headers["x-request-id"]

    with (
        openai.OpenAI(base_url=f"{url}/v1", api_key="anything", max_retries=0) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        return list(pool.map(one, range(n)))


def _wait_for_ready(url: str) -> list[str]:
    deadline = time.monotonic() + 60
    while True:
        try:
            return _chat(url, 1)
        except openai.APIConnectionError:  # only a refused connection; answers are checked
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_workers_share_the_port_lose_no_usage_and_stop_together(
    workers: tuple[Served, subprocess.Popen[str]],
) -> None:
    served, process = workers
    pids = {child.pid for child in psutil.Process(process.pid).children()}
    assert len(pids) == 2
    ids = _chat(served.url, 40)
    database = Path(served.env["QUARRY_DATA_DIR"]) / "quarry.db"
    # What a SIGKILL loses is what the worker had queued and not yet written (under QUARRY_USAGE_FLUSH_S): the
    # kill comes once the 40 rows are written.
    deadline = time.monotonic() + 30
    while len(_recorded(database)) < 40:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    # A worker that dies is replaced; the supervisor and the other worker carry on.
    victim = sorted(pids)[0]
    psutil.Process(victim).kill()
    deadline = time.monotonic() + 60
    while len(now := {c.pid for c in psutil.Process(process.pid).children()} - {victim}) < 2:
        assert time.monotonic() < deadline, served.log.read_text()[-2000:]
        time.sleep(0.1)
    assert len(now) == 2
    ids += _wait_for_ready(served.url)
    ids += _chat(served.url, 20)

    process.send_signal(signal.SIGTERM)
    process.wait(60)
    assert process.stdout is not None
    out = process.stdout.read()  # the rest of the banner is in the reader's buffer, then the stop line
    assert process.returncode == -signal.SIGTERM
    assert out.count("Quarry stopped (SIGTERM).") == 1
    assert "Quarry http" not in out  # the banner was printed once (its first line was read by the fixture)
    assert out.count("workers: 2 processes") == 1
    assert "ended (killed by SIGKILL); starting another" in served.log.read_text()

    # Every answered call has exactly one usage row: each worker wrote its queue at its graceful stop.
    recorded = _recorded(database)
    assert sorted(recorded) == sorted(ids)


def _recorded(database: Path) -> list[str]:
    """The request ids of the API calls in the usage table (the readiness probe's calls are API calls too)."""
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("SELECT request_id FROM usage WHERE api IS NOT NULL")]
