"""Usage by key names each key beside its id, in the admin API and in `quarry usage`: team keys (revoked ones
too), the bootstrap key, calls with no valid key, and a server with no keys at all."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import openai
import orjson
import pytest
from click.testing import CliRunner

from quarry.cli.keys import usage
from quarry.server import create_app
from quarry.settings import Settings
from tests.auth.conftest import ADMIN, admin_post
from tests.conftest import SDKs

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HI: list[Any] = [{"role": "user", "content": "Hi"}]
T = TypeVar("T")


def _eventually(read: Callable[[], T], done: Callable[[T], bool]) -> T:
    """What `read` returns once `done` holds: usage rows are written a moment after the response is sent."""
    deadline = time.monotonic() + 10
    while not done(value := read()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def _cli_usage(folder: Path, *args: str) -> str:
    result = CliRunner().invoke(usage, ["--by", "key", *args], env={"QUARRY_DATA_DIR": str(folder)})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def server(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("usage-names")
    settings = Settings(backend="emulator", api_key=ADMIN, data_dir=folder, usage_flush_s=0.1, key_cache_ttl_s=0.1)  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url, folder


def test_usage_by_key_names_every_key(server: tuple[str, Path], sdk: SDKs) -> None:
    url, folder = server
    alice, bob = admin_post(url, "/admin/keys", {"name": "alice"}), admin_post(url, "/admin/keys", {"name": "bob"})
    for secret in (alice["key"], bob["key"], ADMIN):
        assert sdk.openai(f"{url}/v1", secret).chat.completions.create(model=HAIKU, messages=HI).choices
    with pytest.raises(openai.AuthenticationError):
        sdk.openai(f"{url}/v1", "qk-not-a-key").chat.completions.create(model=HAIKU, messages=HI)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert httpx.delete(f"{url}/admin/keys/{bob['id']}", headers=admin).status_code == 200

    def report() -> dict[str | None, dict[str, Any]]:
        rows = httpx.get(f"{url}/admin/usage?by=key", headers=admin).json()["data"]
        return {row["key"]: row for row in rows}

    rows = _eventually(report, lambda rows: len(rows) == 4)
    named = {key: (row["name"], row["revoked"], row["requests"]) for key, row in rows.items()}
    assert named == {
        alice["id"]: ("alice", False, 1),
        bob["id"]: ("bob", True, 1),  # a revoked key keeps its name
        "bootstrap": ("admin (bootstrap key)", False, 1),
        None: ("no valid key", False, 1),
    }
    assert rows[None]["errors"] == 1

    table = _cli_usage(folder)
    lines = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert lines[alice["id"]].split()[1] == "alice"
    assert "bob (revoked)" in lines[bob["id"]]
    assert "admin (bootstrap key)" in lines["bootstrap"]
    assert "no valid key" in lines["-"]
    printed = orjson.loads(_cli_usage(folder, "--json"))
    assert {row["key"]: row["name"] for row in printed} == {key: row["name"] for key, row in rows.items()}


def test_usage_without_any_key_is_named_as_open_access(
    serve: Any, tmp_path_factory: pytest.TempPathFactory, sdk: SDKs
) -> None:
    folder = tmp_path_factory.mktemp("usage-open")
    settings = Settings(backend="emulator", api_key=None, data_dir=folder, usage_flush_s=0.1)
    url = serve(create_app(settings), lifespan="on").url
    assert sdk.openai(f"{url}/v1", "anything").chat.completions.create(model=HAIKU, messages=HI).choices
    printed = _eventually(lambda: orjson.loads(_cli_usage(folder, "--json")), bool)
    assert [(row["key"], row["name"], row["requests"]) for row in printed] == [("local", "no key (open access)", 1)]
    assert "no key (open access)" in _cli_usage(folder).splitlines()[1]
