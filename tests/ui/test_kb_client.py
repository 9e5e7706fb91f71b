"""The Knowledge tab's client against `quarry serve`'s app on a socket (emulator backend): every call it makes,
both SSE streams, and failures arriving as the `openai` SDK's exceptions with readable sentences."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import openai
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from quarry.ui._client import ToolboxClient
from quarry.ui._kb_client import Event, KnowledgeClient
from quarry.ui._kb_format import kb_error

KEY = "sk-kb-ui"
LEAVE = "# Leave\n\n## Annual leave\n\nEvery employee gets 25 days of paid annual leave each year.\n"
ONCALL = "The on-call engineer answers pages within fifteen minutes, day and night.\n"
T = TypeVar("T")
Connect = Callable[..., KnowledgeClient]  # connect(url=..., key=...): a client on the scenario's HTTP pool


@pytest.fixture(scope="module")
def gateway(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("kb-ui-client")
    settings = Settings(backend="emulator", api_key=KEY, keepalive_s=0.2, data_dir=folder)  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def run(gateway: str, scenario: Callable[[Connect], Awaitable[T]]) -> T:
    """`scenario(connect)` on an event loop of its own, in a worker thread: when the browser tests run in the same
    session, Playwright's sync API keeps an event loop running in this thread."""

    async def main() -> T:
        async with httpx2.AsyncClient(timeout=30, trust_env=False) as http:

            def connect(url: str = gateway, key: str = KEY) -> KnowledgeClient:
                return KnowledgeClient(ToolboxClient(url, key, "b:kb-ui-test", http))

            return await scenario(connect)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def collect(events: AsyncIterator[Event], into: list[Event] | None = None) -> list[Event]:
    """Every event, also kept in `into` as it arrives (so a stream that fails shows what came before)."""
    kept = [] if into is None else into
    async for event in events:
        kept.append(event)
    return kept


@pytest.fixture
def handbook(gateway: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh knowledge base holding leave.md and oncall.txt, uploaded through the client."""
    name = f"hb-{request.node.name.removeprefix('test_')[:40].replace('_', '-')}"
    (tmp_path / "leave.md").write_text(LEAVE)
    (tmp_path / "oncall.txt").write_text(ONCALL)

    async def upload(connect: Connect) -> list[Event]:
        client = connect()
        await client.create(name, "Staff handbook")
        return await collect(client.upload(name, [tmp_path / "leave.md", tmp_path / "oncall.txt"]))

    events = run(gateway, upload)
    assert events[-1][0] == "done", events
    return name


def test_create_list_upload_and_delete(gateway: str, tmp_path: Path) -> None:
    (tmp_path / "leave.md").write_text(LEAVE)
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")

    async def scenario(connect: Connect) -> None:
        client = connect()
        created = await client.create("ui-lifecycle", "Made by the toolbox")
        assert (created["name"], created["description"], created["documents"]) == (
            "ui-lifecycle", "Made by the toolbox", 0,
        )  # fmt: skip
        assert "ui-lifecycle" in {base["name"] for base in await client.knowledge_bases()}
        events = await collect(client.upload("ui-lifecycle", [tmp_path / "leave.md", tmp_path / "blob.bin"]))
        names = [name for name, _ in events]
        assert names[-1] == "done"
        assert set(names[:-1]) == {"progress"}
        assert any(data["files"] == 2 for _, data in events[:-1])
        report = events[-1][1]
        assert report["added"] == ["leave.md"]
        assert "blob.bin" in report["failed"]
        documents = await client.documents("ui-lifecycle")
        assert [(d["name"], d["chunks"] > 0) for d in documents] == [("leave.md", True)]
        assert (await client.knowledge_base("ui-lifecycle"))["documents"] == 1
        await client.delete_document("ui-lifecycle", "leave.md")
        assert await client.documents("ui-lifecycle") == []

    run(gateway, scenario)


def test_answer_streams_sources_deltas_and_the_cited_whole(gateway: str, handbook: str) -> None:
    async def scenario(connect: Connect) -> list[Event]:
        return await collect(connect().answer(handbook, "How many days of annual leave do I get?"))

    events = run(gateway, scenario)
    names = [name for name, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    assert len(names) > 3  # the answer arrived in pieces
    done = events[-1][1]
    assert done["answer"] == "".join(data["text"] for name, data in events if name == "delta")
    assert "25 days of paid annual leave" in done["answer"]
    cited = [source for source in done["sources"] if source["cited"]]
    assert [source["n"] for source in cited] == done["citations"]
    assert cited[0]["document"] == "leave.md"
    assert cited[0]["headings"] == ["Leave", "Annual leave"]


@pytest.mark.parametrize(
    ("call", "kind", "sentence"),
    [
        (lambda c: c.create("ui-twice"), openai.ConflictError, "A knowledge base named ui-twice exists already."),
        (lambda c: c.create("Bad Name!"), openai.BadRequestError, "The request was refused: 'Bad Name!'"),
        (
            lambda c: c.documents("nowhere"),
            openai.NotFoundError,
            "Not found: There is no knowledge base named 'nowhere'.",
        ),
    ],
)
def test_api_errors_are_the_sdks_exceptions_with_readable_sentences(
    gateway: str, call: Any, kind: type[Exception], sentence: str
) -> None:
    async def scenario(connect: Connect) -> str:
        client = connect()
        if kind is openai.ConflictError:
            await client.create("ui-twice")
        with pytest.raises(kind) as caught:
            await call(client)
        return kb_error(caught.value)

    assert sentence in run(gateway, scenario)


def test_a_refused_key_and_an_unreachable_server_read_as_sentences(gateway: str) -> None:
    with socket.socket() as probe:  # a port bound and let go again: nothing listens there
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"

    async def scenario(connect: Connect) -> tuple[str, str]:
        with pytest.raises(openai.AuthenticationError) as refused:
            await connect(key="sk-wrong").knowledge_bases()
        with pytest.raises(openai.APIConnectionError) as unreachable:
            await connect(url=nowhere).knowledge_bases()
        return kb_error(refused.value), kb_error(unreachable.value)

    refused, unreachable = run(gateway, scenario)
    assert refused.startswith("⚠️ Quarry refused the credential")
    assert "type yours in Settings" in refused
    assert "Cannot reach the Quarry API" in unreachable


def test_a_model_failure_during_an_answer_is_raised(gateway: str, handbook: str) -> None:
    question = "How many days of annual leave? [[emulator: error=AccessDeniedException]]"

    events: list[Event] = []

    async def scenario(connect: Connect) -> str:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await collect(connect().answer(handbook, question), into=events)
        return kb_error(caught.value)

    assert run(gateway, scenario).startswith("⚠️ Access denied")
    assert [name for name, _ in events] == ["sources"]  # it failed inside the stream, after the passages were found
