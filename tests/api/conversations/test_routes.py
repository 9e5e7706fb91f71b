"""The conversation and user-settings endpoints over a real socket: ownership, validation, errors, persistence."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from quarry.server import create_app
from quarry.settings import Settings, UISettings

KEY = "sk-conversations-test"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("conversations")


@pytest.fixture(scope="module")
def gateway(serve: Any, data_dir: Path) -> str:
    settings = Settings(
        backend="emulator",
        data_dir=data_dir,
        api_key=KEY,  # type: ignore[arg-type]
        ui=UISettings(enabled=False),
    )
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def client(gateway: str, user: str | None = None, key: str = KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} | ({"X-Quarry-User": user} if user else {})
    return httpx.Client(base_url=f"{gateway}/v1", headers=headers)


@pytest.fixture
def alice(gateway: str) -> Iterator[httpx.Client]:
    with client(gateway, "alice") as http:
        yield http


def test_create_get_update_list_delete(alice: httpx.Client) -> None:
    created = alice.post(
        "/toolbox/conversations", json={"title": "Trip", "parameters": {"temperature": 0.3, "top_k": 40}}
    )
    assert created.status_code == 201
    conversation = created.json()
    assert conversation["id"].startswith("conv_")
    assert conversation["parameters"]["temperature"] == 0.3
    assert conversation["model"]  # the server's default model
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello", "reasoning": "greet"}]
    updated = alice.patch(f"/toolbox/conversations/{conversation['id']}", json={"messages": messages, "memory_upto": 9})
    assert updated.status_code == 200
    assert updated.json()["messages"][1]["reasoning"] == "greet"
    assert updated.json()["memory_upto"] == 2  # never past the messages
    assert updated.json()["title"] == "Trip"  # untouched fields stay
    listing = alice.get("/toolbox/conversations").json()
    assert listing["object"] == "list"
    assert conversation["id"] in [item["id"] for item in listing["data"]]
    assert "messages" not in listing["data"][0]
    deleted = alice.delete(f"/toolbox/conversations/{conversation['id']}")
    assert deleted.json() == {"id": conversation["id"], "object": "conversation.deleted", "deleted": True}
    assert alice.get(f"/toolbox/conversations/{conversation['id']}").status_code == 404


def test_users_never_see_each_other(gateway: str, alice: httpx.Client) -> None:
    mine = alice.post("/toolbox/conversations", json={"title": "Alice only"}).json()
    with client(gateway, "bob") as bob:
        assert mine["id"] not in [item["id"] for item in bob.get("/toolbox/conversations").json()["data"]]
        for method in ("get", "delete"):
            refused = getattr(bob, method)(f"/toolbox/conversations/{mine['id']}")
            assert refused.status_code == 404
            assert refused.json()["error"]["code"] == "conversation_not_found"
        assert bob.patch(f"/toolbox/conversations/{mine['id']}", json={"title": "mine now"}).status_code == 404
    assert alice.get(f"/toolbox/conversations/{mine['id']}").json()["title"] == "Alice only"


def test_key_is_required_and_checked(gateway: str) -> None:
    with client(gateway, "alice", key="wrong") as http:
        refused = http.get("/toolbox/conversations")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"parameters": {"temperature": 5}}, "parameters.temperature"),
        ({"parameters": {"top_k": 0}}, "parameters.top_k"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"colour": "blue"}, "colour"),
        ({"title": "x" * 201}, "title"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(alice: httpx.Client, body: dict[str, Any], param: str) -> None:
    refused = alice.post("/toolbox/conversations", json=body)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_bad_user_header_and_body(gateway: str) -> None:
    with client(gateway, "not a valid/user") as http:
        refused = http.get("/toolbox/conversations")
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "X-Quarry-User"
    with client(gateway, "alice") as http:
        assert http.post("/toolbox/conversations", content=b"{nope").status_code == 400
        assert http.post("/toolbox/conversations", json=[1]).status_code == 400
        assert http.get("/toolbox/conversations/../../etc").status_code == 404


def test_user_settings_are_per_user(gateway: str, alice: httpx.Client) -> None:
    assert alice.get("/user/settings").json()["presets"] == {}
    saved = alice.put("/user/settings", json={"default_model": "fast", "presets": {"pirate": "Talk like a pirate."}})
    assert saved.status_code == 200
    assert alice.get("/user/settings").json()["presets"] == {"pirate": "Talk like a pirate."}
    with client(gateway, "carol") as carol:
        assert carol.get("/user/settings").json()["default_model"] is None
    refused = alice.put("/user/settings", json={"api_url": "ftp://example.com"})
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "api_url"


def test_conversations_survive_a_restart(serve: Any, gateway: str, data_dir: Path, alice: httpx.Client) -> None:
    kept = alice.post("/toolbox/conversations", json={"title": "Persistent"}).json()
    settings = Settings(backend="emulator", data_dir=data_dir, api_key=KEY, ui=UISettings(enabled=False))  # type: ignore[arg-type]
    second = serve(create_app(settings), lifespan="on").url
    with client(second, "alice") as http:
        assert http.get(f"/toolbox/conversations/{kept['id']}").json()["title"] == "Persistent"


def test_the_openai_sdk_reaches_them_too(gateway: str) -> None:
    sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key=KEY, default_headers={"X-Quarry-User": "dave"}, max_retries=0)
    created = sdk.post("/toolbox/conversations", body={"title": "From the SDK"}, cast_to=httpx.Response).json()
    listing = sdk.get("/toolbox/conversations", cast_to=httpx.Response).json()
    assert [item["id"] for item in listing["data"]] == [created["id"]]
    with pytest.raises(openai.NotFoundError):
        sdk.get("/toolbox/conversations/conv_000000000000000000000000", cast_to=httpx.Response)


def test_an_update_that_loses_every_race_is_a_409_not_a_500(alice: httpx.Client, data_dir: Path) -> None:
    """Found by the fuzz test: requests updating one conversation at once, one losing the compare-and-set on every
    attempt, ended in a 500. A real SQLite trigger makes every write to this one conversation lose, as a writer racing
    the others would, every time."""
    conversation_id = alice.post("/toolbox/conversations", json={"title": "Contended"}).json()["id"]
    database = sqlite3.connect(data_dir / "quarry.db")
    database.execute(
        f"CREATE TRIGGER always_lose BEFORE UPDATE ON conversations WHEN OLD.id = '{conversation_id}' "
        "BEGIN SELECT RAISE(IGNORE); END"
    )
    database.commit()
    try:
        answer = alice.patch(f"/toolbox/conversations/{conversation_id}", json={"title": "Mine"})
    finally:
        database.execute("DROP TRIGGER always_lose")
        database.commit()
        database.close()
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "conversation_conflict"
    assert "send it again" in answer.json()["error"]["message"]
    assert alice.get(f"/toolbox/conversations/{conversation_id}").json()["title"] == "Contended"  # nothing half-written
    assert alice.patch(f"/toolbox/conversations/{conversation_id}", json={"title": "Mine"}).json()["title"] == "Mine"
