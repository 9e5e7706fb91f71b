"""Two `quarry serve` replicas sharing one Redis and one PostgreSQL, one SIGKILLed mid-run: is any usage lost or
counted twice? (Issue 22, "Many replicas"; tests/auth/test_shared.py runs the same check with 320 calls in CI.)

    PYTHONPATH=src .venv/bin/python bench/run_replica_kill.py            # 10,000 requests, a few minutes

It starts Debian's `redis-server`, PostgreSQL from `pgserver`, and two replicas (`quarry serve --backend emulator`,
each with its in-process emulator, every feature on, usage durability at its default: on with PostgreSQL), makes
one team key through the admin API, then sends N chat completions (10% streamed, with `stream_options.include_usage`),
each with its own `x-request-id`, from C concurrent callers over both replicas in turn (an ALB's round robin). When
40% of the calls have ended, one replica is SIGKILLed. Like an ALB the client takes a replica out of the rotation
on its first connection error and puts it back when its `/health` answers again; the killed replica is restarted a
few seconds after the kill and rejoins. Calls cut by the kill are not retried: they count as "failed by the kill".

At the end both replicas are stopped (SIGTERM, so their queues drain) and the `usage` table is read. Per request
id: an answered call (200 and a whole body, or a stream ending in `[DONE]` with its usage chunk) must have exactly
one row (0: lost; 2 or more: double-counted); a call cut by the kill may have 0 or 1 rows (1: the row was committed
and the answer died on the way), never 2. Tokens and cost summed over the rows are compared with those the answers
reported (their `usage`, priced with the shipped price table; and the `x-quarry-cost-usd` header of the
non-streamed ones).

Prints a Markdown table; one JSON line per request and a summary line go to bench/results/replica-kill-*.jsonl.
Exits 1 when usage was lost or double-counted, when a call failed for another reason than the kill, or when a row has
an id that was never sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ADMIN = "sk-admin-quarry-replica-bench"
RESULTS = Path(__file__).resolve().parent / "results"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Replica:
    """One `quarry serve` process; `generation` counts its starts (a restart after the kill is generation 2)."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.env = env | {"QUARRY_DATA_DIR": str(folder / "data")}
        self.process: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self.up = False  # in the client's rotation
        self.killed_at: float | None = None

    def spawn(self) -> None:
        self.generation += 1
        with (self.folder / f"serve-{self.generation}.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "quarry", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--backend", "emulator"],
                env=self.env, stdout=log, stderr=log,
            )  # fmt: skip

    async def healthy(self, session: aiohttp.ClientSession, within: float) -> None:
        deadline = time.monotonic() + within
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.folder / f"serve-{self.generation}.log").read_text()[-3000:]
                raise RuntimeError(f"{self.name} exited at start-up:\n{log}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{self.url}/health", timeout=aiohttp.ClientTimeout(total=1)) as answer:
                    if answer.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not healthy after {within:.0f} s")
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        assert self.process is not None
        self.killed_at = time.monotonic()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None
        self.process.terminate()
        return self.process.wait(60)


@dataclass
class Call:
    """One request as the client saw it."""

    request_id: str
    replica: str
    generation: int
    stream: bool
    outcome: str = "pending"  # answered | cut (connection error) | refused (never connected) | status | incomplete
    status: int | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None  # priced from the answer's tokens with the shipped table
    cost_header_usd: float | None = None  # x-quarry-cost-usd (non-streamed answers; rounded to 6 decimals)
    started: float = 0.0
    ended: float = 0.0
    rows: int = 0
    row_prompt_tokens: int = 0
    row_output_tokens: int = 0
    row_cost_usd: float = 0.0
    row_statuses: list[int] = field(default_factory=list)


class Router:
    """Round robin over the replicas in rotation, as an ALB spreads requests over healthy targets."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.replicas = replicas

    def pick(self, n: int) -> Replica:
        first = self.replicas[n % len(self.replicas)]
        if first.up:
            return first
        others = [replica for replica in self.replicas if replica.up]
        return others[n % len(others)] if others else first


def body(n: int, stream: bool, rng: random.Random) -> dict[str, Any]:
    words = rng.randint(4, 40)
    pacing = ", tps=400" if stream else ""  # a stream takes 10-100 ms, so the kill cuts some in the middle
    payload: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 256,
        "stream": stream,
        "messages": [
            {"role": "user", "content": f"[[emulator: words={words}{pacing}]] call {n}: {'lorem ' * (n % 7)}"}
        ],
    }
    if stream:
        payload["stream_options"] = {"include_usage": True}
    return payload


def read_stream(text: str, call: Call) -> bool:
    """Whether an SSE body is whole: content, a finish reason, a usage chunk and `[DONE]` last; notes its usage."""
    lines = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    if not lines or lines[-1] != "[DONE]":
        return False
    finished = False
    usage = None
    for line in lines[:-1]:
        chunk = json.loads(line)
        for choice in chunk.get("choices") or []:
            finished = finished or bool(choice.get("finish_reason"))
        usage = chunk.get("usage") or usage
    if not finished or not usage:
        return False
    note_usage(call, usage)
    return True


def note_usage(call: Call, usage: dict[str, Any]) -> None:
    call.prompt_tokens = int(usage["prompt_tokens"])
    call.completion_tokens = int(usage["completion_tokens"])
    call.cached_tokens = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)


async def one(session: aiohttp.ClientSession, replica: Replica, call: Call, payload: dict[str, Any], key: str) -> None:
    headers = {"Authorization": f"Bearer {key}", "x-request-id": call.request_id}
    call.started = time.monotonic()
    try:
        async with session.post(f"{replica.url}/v1/chat/completions", json=payload, headers=headers) as answer:
            call.status = answer.status
            raw = await answer.read()
            if answer.status != 200:
                call.outcome, call.error = "status", raw[:300].decode(errors="replace")
                return
            if call.stream:
                whole = read_stream(raw.decode(), call)
            else:
                data = json.loads(raw)
                choices = data.get("choices") or []
                whole = bool(choices and choices[0]["message"].get("content") and choices[0].get("finish_reason"))
                if whole:
                    note_usage(call, data["usage"])
                    if "x-quarry-cost-usd" in answer.headers:
                        call.cost_header_usd = float(answer.headers["x-quarry-cost-usd"])
            call.outcome = "answered" if whole else "incomplete"
    except aiohttp.ClientConnectorError as exc:
        call.outcome, call.error = "refused", repr(exc)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        call.outcome, call.error = "cut", repr(exc)
    finally:
        call.ended = time.monotonic()


async def watch_health(session: aiohttp.ClientSession, replicas: list[Replica], stop: asyncio.Event) -> None:
    """An ALB's health check: a replica answering `/health` is (back) in the rotation."""
    while not stop.is_set():
        for replica in replicas:
            if replica.up or replica.process is None or replica.process.poll() is not None:
                continue
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{replica.url}/health", timeout=aiohttp.ClientTimeout(total=1)) as answer:
                    replica.up = answer.status == 200
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def drive(args: argparse.Namespace, replicas: list[Replica], key: str, run_id: str) -> dict[str, Any]:
    router = Router(replicas)
    victim = replicas[1]
    calls: list[Call] = []
    queue = iter(range(args.requests))
    ended = 0
    kill_after = int(args.requests * args.kill_at)
    kill_now = asyncio.Event()
    stop = asyncio.Event()
    timeline: dict[str, Any] = {}
    rng = random.Random(args.seed)
    streams = {n for n in range(args.requests) if rng.random() < args.stream_share}
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def caller() -> None:
            nonlocal ended
            for n in queue:
                replica = router.pick(n)
                stream = n in streams
                call = Call(f"{run_id}-{n:05d}", replica.name, replica.generation, stream)
                calls.append(call)
                await one(session, replica, call, body(n, stream, random.Random(n)), key)
                if call.outcome in ("refused", "cut"):
                    replica.up = False  # the load balancer's view: out of rotation until /health answers again
                ended += 1
                if ended == kill_after:
                    kill_now.set()

        async def killer() -> None:
            await kill_now.wait()
            in_flight = sum(1 for c in calls if c.replica == victim.name and c.outcome == "pending")
            timeline["kill"] = {"after_calls_ended": ended, "in_flight_on_victim": in_flight, "at_s": round(
                time.monotonic() - began, 3)}  # fmt: skip
            victim.kill()
            if args.restart_after is None:
                return
            await asyncio.sleep(args.restart_after)
            victim.spawn()
            timeline["restart"] = {"at_s": round(time.monotonic() - began, 3)}
            await victim.healthy(session, 180)
            timeline["rejoined"] = {"at_s": round(time.monotonic() - began, 3), "after_calls_ended": ended}

        for replica in replicas:
            replica.up = True
        health = asyncio.create_task(watch_health(session, replicas, stop))
        began = time.monotonic()
        kill_task = asyncio.create_task(killer())
        await asyncio.gather(*(caller() for _ in range(args.concurrency)))
        timeline["wall_s"] = round(time.monotonic() - began, 3)
        if not kill_task.done():
            kill_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await kill_task
        stop.set()
        await health
    return {"calls": calls, "timeline": timeline}


async def read_rows(postgres_url: str, run_id: str) -> dict[str, list[dict[str, Any]]]:
    connection = await asyncpg.connect(postgres_url)
    try:
        found = await connection.fetch(
            "SELECT request_id, status, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, cost_usd"
            " FROM usage WHERE request_id LIKE $1",
            f"{run_id}-%",
        )
    finally:
        await connection.close()
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in found:
        rows.setdefault(row["request_id"], []).append(dict(row))
    return rows


def price(calls: list[Call]) -> None:
    """What each answer cost by its own tokens, with the shipped price table (streams carry no cost header: their
    tokens are known only after the headers are sent; the header of the others is rounded to the micro-dollar)."""
    from quarry.exchange import TokenCounts
    from quarry.spend import PriceTable

    table = PriceTable.load()
    for call in calls:
        if call.outcome == "answered":
            counts: TokenCounts = {
                "input_tokens": call.prompt_tokens - call.cached_tokens,
                "output_tokens": call.completion_tokens,
                "cache_read_tokens": call.cached_tokens,
                "cache_write_tokens": 0,
            }
            call.cost_usd = table.cost(MODEL, counts)


def summarise(calls: list[Call], rows: dict[str, list[dict[str, Any]]], victim: Replica) -> dict[str, Any]:
    sent = {call.request_id for call in calls}
    for call in calls:
        for row in rows.get(call.request_id, []):
            call.rows += 1
            call.row_prompt_tokens += row["input_tokens"] + row["cache_read_tokens"] + row["cache_write_tokens"]
            call.row_output_tokens += row["output_tokens"]
            call.row_cost_usd += row["cost_usd"] or 0.0
            call.row_statuses.append(row["status"])
    answered = [call for call in calls if call.outcome == "answered"]
    failed = [call for call in calls if call.outcome != "answered"]
    by_kill = [c for c in failed if c.replica == victim.name and c.generation == 1 and c.outcome in ("cut", "refused")]
    other_failures = [c for c in failed if c not in by_kill]
    kill_cut = [c for c in by_kill if c.outcome == "cut"]
    return {
        "requests_sent": len(calls),
        "streamed": sum(call.stream for call in calls),
        "answered": len(answered),
        "answered_by_victim_before_kill": sum(c.replica == victim.name and c.generation == 1 for c in answered),
        "answered_by_victim_after_restart": sum(c.replica == victim.name and c.generation > 1 for c in answered),
        "failed_by_kill": len(by_kill),
        "failed_by_kill_cut_in_flight": len(kill_cut),
        "failed_by_kill_refused": len(by_kill) - len(kill_cut),
        "failed_by_kill_streams": sum(c.stream for c in by_kill),
        "failed_by_kill_with_1_row": sum(c.rows == 1 for c in by_kill),
        "failed_by_kill_with_0_rows": sum(c.rows == 0 for c in by_kill),
        "failed_otherwise": len(other_failures),
        "failed_otherwise_examples": [f"{c.request_id} {c.outcome} {c.status} {c.error}" for c in other_failures[:5]],
        "answered_with_0_rows": sum(c.rows == 0 for c in answered),
        "requests_with_2_or_more_rows": sum(c.rows >= 2 for c in calls),
        "rows_for_requests_not_seen_answered": sum(c.rows for c in failed),
        "rows_not_sent": sum(len(found) for rid, found in rows.items() if rid not in sent),
        "rows_total": sum(len(found) for found in rows.values()),
        "answered_rows_not_status_200": sum(any(s != 200 for s in c.row_statuses) for c in answered),
        "tokens_answers": sum(c.prompt_tokens + c.completion_tokens for c in answered),
        "tokens_rows_of_answered": sum(c.row_prompt_tokens + c.row_output_tokens for c in answered),
        "tokens_rows_all": sum(c.row_prompt_tokens + c.row_output_tokens for c in calls),
        "answers_with_other_tokens_than_their_row": sum(
            c.rows == 1 and (c.prompt_tokens, c.completion_tokens) != (c.row_prompt_tokens, c.row_output_tokens)
            for c in answered
        ),
        "cost_answers_usd": sum(c.cost_usd or 0.0 for c in answered),
        "cost_rows_of_answered_usd": sum(c.row_cost_usd for c in answered),
        "cost_rows_all_usd": sum(c.row_cost_usd for c in calls),
        "answers_whose_cost_header_differs_from_their_row": sum(
            c.rows == 1 and c.cost_header_usd is not None and abs(c.cost_header_usd - c.row_cost_usd) > 1e-6
            for c in answered
        ),
    }


def table(summary: dict[str, Any], args: argparse.Namespace, timeline: dict[str, Any]) -> str:
    s = summary

    def line(figure: str, value: Any, must: str = "") -> str:
        return f"| {figure} | {value} | {must} |"

    kill = timeline["kill"]
    rejoined = timeline.get("rejoined")
    restart = timeline.get("restart")
    back = "no (--no-restart)" if args.restart_after is None else "not before the end"
    if restart is not None:
        back = f"at {restart['at_s']} s, in rotation again "
        back += (
            f"at {rejoined['at_s']} s ({rejoined['after_calls_ended']:,} calls ended)"
            if rejoined
            else "not before the end"
        )
    lines = [
        "| figure | value | must be |",
        "|---|---|---|",
        line("requests sent (streamed)", f"{s['requests_sent']:,} ({s['streamed']:,})", f"{args.requests:,}"),
        line("wall time, requests/s", f"{timeline['wall_s']:.1f} s, {s['requests_sent'] / timeline['wall_s']:,.0f}"),
        line("replica B SIGKILLed", f"after {kill['after_calls_ended']:,} calls ended, "
             f"{kill['in_flight_on_victim']} in flight on it, at {kill['at_s']} s"),
        line("replica B restarted", back),
        line("answered (200, whole body or stream)", f"{s['answered']:,}"),
        line("… by B before the kill / after its restart",
             f"{s['answered_by_victim_before_kill']:,} / {s['answered_by_victim_after_restart']:,}"),
        line("failed by the kill: cut in flight / refused (streams among them)",
             f"{s['failed_by_kill_cut_in_flight']} / {s['failed_by_kill_refused']} ({s['failed_by_kill_streams']})"),
        line("… of them with 1 row (committed, answer lost on the way)", s["failed_by_kill_with_1_row"], "0 or more"),
        line("failed for another reason", s["failed_otherwise"], "0"),
        line("**answered with 0 rows (lost)**", f"**{s['answered_with_0_rows']}**", "0"),
        line("**requests with 2 or more rows (double-counted)**", f"**{s['requests_with_2_or_more_rows']}**", "0"),
        line("rows for requests the client never saw answered", s["rows_for_requests_not_seen_answered"]),
        line("rows with an id never sent", s["rows_not_sent"], "0"),
        line("answered calls whose row is not status 200", s["answered_rows_not_status_200"], "0"),
        line("tokens: answers / their rows", f"{s['tokens_answers']:,} / {s['tokens_rows_of_answered']:,}", "equal"),
        line("answers whose tokens differ from their row's", s["answers_with_other_tokens_than_their_row"], "0"),
        line("tokens: all rows (incl. calls cut after commit)", f"{s['tokens_rows_all']:,}"),
        line("cost USD: answers / their rows",
             f"{s['cost_answers_usd']:.6f} / {s['cost_rows_of_answered_usd']:.6f}", "equal"),
        line("answers whose `x-quarry-cost-usd` differs from their row's", s[
            "answers_whose_cost_header_differs_from_their_row"], "0"),
        line("cost USD: all rows", f"{s['cost_rows_all_usd']:.6f}"),
    ]  # fmt: skip
    return "\n".join(lines)


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if not binary:
        raise SystemExit("redis-server is missing: scripts/test installs Debian's redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("redis-server did not start") from None
            time.sleep(0.05)


def offline_env(folder: Path) -> dict[str, str]:
    """This environment without AWS credentials or Quarry settings (as tests/conftest.py's offline_environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "QUARRY_"))}
    return env | {
        "AWS_CONFIG_FILE": str(folder / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "QUARRY_CONFIG": str(folder / "none.toml"),
    }


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


async def make_key(url: str) -> str:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/admin/keys", json={"name": "replica-kill-bench"}, headers=headers) as answer,
    ):
        if answer.status != 201:
            raise SystemExit(f"making a key failed: {answer.status} {await answer.text()}")
        created = await answer.json()
        secret: str = created["key"]
        return secret


async def main(args: argparse.Namespace) -> int:
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="quarry-replica-kill-"))
    redis, redis_url = start_redis(folder)
    postgres = pgserver.get_server(folder / "pg", cleanup_mode="stop")
    postgres_url = postgres.get_uri()
    env = offline_env(folder) | {
        "QUARRY_API_KEY": ADMIN,
        "QUARRY_DATABASE_URL": postgres_url,
        "QUARRY_REDIS_URL": redis_url,
        "QUARRY_LOG_LEVEL": "warning",
    }
    if args.durable != "default":
        env["QUARRY_USAGE_DURABLE"] = args.durable
    replicas = [Replica(name, env, folder / name) for name in ("A", "B")]
    run_id = f"rk{time.strftime('%Y%m%d%H%M%S')}{uuid.uuid4().hex[:6]}"
    loadavg_before = loadavg()
    try:
        async with aiohttp.ClientSession() as session:
            for replica in replicas:  # one after the other: the first applies the migrations
                replica.folder.mkdir()
                replica.spawn()
                await replica.healthy(session, 180)
        key = await make_key(replicas[0].url)
        driven = await drive(args, replicas, key, run_id)
    finally:
        exits = {replica.name: replica.stop() for replica in replicas}  # SIGTERM: what is queued gets written
    loadavg_after = loadavg()
    try:
        rows = await read_rows(postgres_url, run_id)
    finally:
        postgres.cleanup()
        redis.terminate()
        redis.wait(10)
    calls: list[Call] = driven["calls"]
    price(calls)
    summary = summarise(calls, rows, replicas[1])
    timeline = driven["timeline"]
    ok = (
        summary["answered_with_0_rows"] == 0
        and summary["requests_with_2_or_more_rows"] == 0
        and summary["failed_otherwise"] == 0
        and summary["rows_not_sent"] == 0
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"replica-kill-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    with out.open("w") as sink:
        for call in calls:
            sink.write(json.dumps(asdict(call)) + "\n")
        sink.write(json.dumps({
            "summary": summary, "timeline": timeline, "ok": ok, "run_id": run_id, "exits_on_stop": exits,
            "args": vars(args), "loadavg_before": loadavg_before, "loadavg_after": loadavg_after,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }) + "\n")  # fmt: skip
    print(table(summary, args, timeline))
    print()
    print(f"load average before / after: {' '.join(loadavg_before)} / {' '.join(loadavg_after)}")
    print(f"per-request lines and summary: {out}")
    if summary["failed_otherwise_examples"]:
        print("failed for another reason, e.g.:", *summary["failed_otherwise_examples"], sep="\n  ")
    print("PASS: no usage lost or double-counted" if ok else "FAIL: see the table")
    if args.keep:
        print(f"logs kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--requests", type=int, default=10_000)
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("--stream-share", type=float, default=0.1, help="share of streamed calls [0.1]")
    parser.add_argument("--kill-at", type=float, default=0.4, help="share of calls ended when B is killed [0.4]")
    parser.add_argument("--restart-after", type=float, default=1.0, help="seconds from the kill to B's restart")
    parser.add_argument("--no-restart", dest="restart_after", action="store_const", const=None)
    parser.add_argument("--durable", choices=["default", "true", "false"], default="default",
                        help="QUARRY_USAGE_DURABLE: default leaves it unset (on with PostgreSQL)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=60, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs and data folder")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
