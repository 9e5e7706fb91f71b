"""Knowledge bases have owners (issue 23): a team key sees and changes only what it made or what is shared with it,
through every route — the knowledge-base API, `kb:` chat models, `/v1/messages`, `/v1/models` and the toolbox's
client — and the admin sees all. `quarry serve`'s app on a socket over the in-process emulator."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest

from quarry.auth import ToolboxCredentials
from quarry.server import create_app
from quarry.settings import Settings
from quarry.ui._client import ToolboxClient
from quarry.ui._kb_client import KnowledgeClient

ADMIN = "sk-owners-admin"
SECRET = "owners-toolbox-secret"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
LEAVE = b"# Leave\n\nEvery employee gets 25 days of paid annual leave each year.\n"
QUESTION = [{"role": "user", "content": "How many days of annual leave do employees get?"}]


@dataclass
class Caller:
    """One principal's client, and the id it is named by in owners and grants."""

    client: httpx.Client
    id: str

    def kbs(self) -> set[str]:
        listed = self.client.get("/knowledge-bases")
        assert listed.status_code == 200, listed.text
        return {kb["name"] for kb in listed.json()["data"]}

    def models(self) -> set[str]:
        return {model["id"] for model in self.client.get("/models").json()["data"]}

    def chat(self, model: str) -> httpx.Response:
        return self.client.post("/chat/completions", json={"model": model, "messages": QUESTION})

    def retrieve(self, name: str) -> httpx.Response:
        return self.client.post(f"/knowledge-bases/{name}/retrieve", json={"retrievalQuery": {"text": "annual leave"}})

    def upload(self, name: str, file: str = "leave.md") -> httpx.Response:
        return self.client.post(f"/knowledge-bases/{name}/documents", files=[("file", (file, LEAVE))])

    def share(self, name: str, *grantees: str) -> httpx.Response:
        body = {"shared_with": [{"grantee": grantee, "access": "read"} for grantee in grantees]}
        return self.client.patch(f"/knowledge-bases/{name}", json=body)


@dataclass
class Gateway:
    url: str
    data: Path
    admin: Caller
    clients: list[httpx.Client]  # closed when the module is done

    def key(self, name: str, **fields: Any) -> Caller:
        made = self.admin.client.post(f"{self.url}/admin/keys", json={"name": name} | fields)
        assert made.status_code == 201, made.text
        return Caller(self._client(made.json()["key"]), made.json()["id"])

    def user(self, user: str) -> Caller:
        """A signed-in toolbox user's derived credential, as the toolbox issues it."""
        credential = ToolboxCredentials(hashlib.sha256(SECRET.encode()).digest()).issue(user)
        return Caller(self._client(credential), f"user:{user}")

    def _client(self, key: str) -> httpx.Client:
        client = httpx.Client(base_url=f"{self.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        self.clients.append(client)
        return client

    def owned(self, owner: Caller, name: str) -> str:
        """A knowledge base `owner` makes, holding leave.md."""
        created = owner.client.post("/knowledge-bases", json={"name": name})
        assert created.status_code == 201, created.text
        assert owner.upload(name).status_code == 200
        return name


@pytest.fixture(scope="module")
def gateway(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data = tmp_path_factory.mktemp("owners")
    settings = Settings(
        backend="emulator", api_key=ADMIN, data_dir=data, key_cache_ttl_s=0.1, ui={"credential_secret": SECRET}
    )  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    with httpx.Client(base_url=f"{url}/v1", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30) as admin:
        made = Gateway(url, data, Caller(admin, "admin"), [])
        yield made
    for client in made.clients:
        client.close()


def _same_as_missing(response: httpx.Response, missing: httpx.Response, name: str) -> None:
    """A knowledge base the caller may not see answers exactly as one that does not exist (`nowhere`)."""
    assert response.status_code == 404, response.text
    assert missing.status_code == 404, missing.text
    assert response.text == missing.text.replace("nowhere", name)


def test_a_key_cannot_see_or_touch_another_keys_knowledge_base(gateway: Gateway) -> None:
    a, b = gateway.key("team a"), gateway.key("team b")
    name = gateway.owned(a, "a-private")
    assert name in a.kbs()
    assert f"kb:{name}" in a.models()
    assert name not in b.kbs()
    assert f"kb:{name}" not in b.models()
    http = b.client
    for method, path, extra in [
        ("GET", "", {}),
        ("GET", "/documents", {}),
        ("POST", "/retrieve", {"json": {"retrievalQuery": {"text": "annual leave"}}}),
        ("POST", "/answer", {"json": {"question": "How much annual leave?", "model": HAIKU}}),
        ("POST", "/documents", {"files": [("file", ("x.txt", b"mine now"))]}),
        ("DELETE", "/documents/leave.md", {}),
        ("PATCH", "", {"json": {"shared_with": [{"grantee": "*"}]}}),
        ("DELETE", "", {}),
    ]:
        refused = http.request(method, f"/knowledge-bases/{name}{path}", **extra)
        missing = http.request(method, f"/knowledge-bases/nowhere{path}", **extra)
        _same_as_missing(refused, missing, name)
    _same_as_missing(b.chat(f"kb:{name}"), b.chat("kb:nowhere"), name)
    _same_as_missing(b.chat(f"kb:{name}:{HAIKU}"), b.chat(f"kb:nowhere:{HAIKU}"), name)
    messages = {"model": f"kb:{name}", "max_tokens": 20, "messages": QUESTION}
    anthropic = http.post("/messages", json=messages, headers={"anthropic-version": "2023-06-01"})
    assert anthropic.status_code == 404
    assert anthropic.json()["error"]["type"] == "not_found_error"
    # and all of it is still there for its owner
    assert a.client.get(f"/knowledge-bases/{name}/documents").json()["data"][0]["name"] == "leave.md"
    assert "25 days" in a.chat(f"kb:{name}").json()["choices"][0]["message"]["content"]


def test_the_owner_sees_who_owns_and_who_shares_and_a_reader_does_not(gateway: Gateway) -> None:
    a, b = gateway.key("owner"), gateway.key("reader")
    name = gateway.owned(a, "a-shown")
    shown = a.client.get(f"/knowledge-bases/{name}").json()
    assert (shown["owner"], shown["shared_with"]) == (f"key:{a.id}", [])
    shared = a.share(name, b.id)  # a bare key id, as the admin API lists it
    assert shared.status_code == 200, shared.text
    assert shared.json()["shared_with"] == [{"grantee": f"key:{b.id}", "access": "read"}]
    seen = b.client.get(f"/knowledge-bases/{name}").json()
    assert seen["name"] == name
    assert "owner" not in seen
    assert "shared_with" not in seen
    listed = [kb for kb in b.client.get("/knowledge-bases").json()["data"] if kb["name"] == name]
    assert len(listed) == 1
    assert "shared_with" not in listed[0]


def test_shared_to_read_a_key_queries_and_chats_but_changes_nothing(gateway: Gateway) -> None:
    a, b = gateway.key("sharer"), gateway.key("grantee")
    name = gateway.owned(a, "a-shared")
    assert a.share(name, f"key:{b.id}").status_code == 200
    assert name in b.kbs()
    assert f"kb:{name}" in b.models()
    assert "25 days" in b.retrieve(name).json()["retrievalResults"][0]["content"]["text"]
    assert "25 days" in b.chat(f"kb:{name}").json()["choices"][0]["message"]["content"]
    answer = b.client.post(f"/knowledge-bases/{name}/answer", json={"question": "How much annual leave?"})
    assert "25 days" in answer.json()["answer"]
    assert [d["name"] for d in b.client.get(f"/knowledge-bases/{name}/documents").json()["data"]] == ["leave.md"]
    for refused in [
        b.upload(name, "other.md"),
        b.client.delete(f"/knowledge-bases/{name}/documents/leave.md"),
        b.share(name, "*"),
        b.client.patch(f"/knowledge-bases/{name}", json={"owner": f"key:{b.id}"}),
        b.client.delete(f"/knowledge-bases/{name}"),
    ]:
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "knowledge_base_read_only"
        assert "only its owner or the admin may change it" in refused.json()["error"]["message"]
    assert [d["name"] for d in a.client.get(f"/knowledge-bases/{name}/documents").json()["data"]] == ["leave.md"]
    # unshared: gone again
    assert a.share(name).json()["shared_with"] == []
    assert name not in b.kbs()
    assert b.retrieve(name).status_code == 404


def test_shared_with_everyone_every_key_and_toolbox_user_reads(gateway: Gateway) -> None:
    a, b, c = gateway.key("everyone's"), gateway.key("b"), gateway.key("c")
    ada = gateway.user("u:ada")
    name = gateway.owned(a, "a-public")
    assert a.share(name, "*").json()["shared_with"] == [{"grantee": "*", "access": "read"}]
    for reader in (b, c, ada):
        assert name in reader.kbs()
        assert reader.retrieve(name).status_code == 200
        assert reader.client.delete(f"/knowledge-bases/{name}").status_code == 403


def test_a_keys_model_patterns_still_decide(gateway: Gateway) -> None:
    """Sharing does not widen a key's scopes: a key whose patterns exclude `kb:NAME` is refused it, as before."""
    a = gateway.key("patterns owner")
    scoped = gateway.key("scoped", models=["anthropic.*"])
    name = gateway.owned(a, "a-everyone")
    assert a.share(name, "*").status_code == 200
    assert name not in scoped.kbs()
    assert f"kb:{name}" not in scoped.models()
    refused = scoped.retrieve(name)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "knowledge_base_not_allowed"


def test_the_admin_sees_changes_gives_and_deletes_every_knowledge_base(gateway: Gateway) -> None:
    a, b = gateway.key("admin's a"), gateway.key("admin's b")
    name = gateway.owned(a, "a-given")
    mine = gateway.admin.client.post("/knowledge-bases", json={"name": "admins-own"})
    assert mine.json()["owner"] == "admin"
    assert name not in b.kbs()
    assert "admins-own" not in a.kbs() | b.kbs()
    listed = {kb["name"]: kb for kb in gateway.admin.client.get("/knowledge-bases").json()["data"]}
    assert {name, "admins-own"} <= set(listed)
    assert listed[name]["owner"] == f"key:{a.id}"
    assert f"kb:{name}" in gateway.admin.models()
    assert "25 days" in gateway.admin.chat(f"kb:{name}").json()["choices"][0]["message"]["content"]
    # only the admin gives a knowledge base away
    refused = a.client.patch(f"/knowledge-bases/{name}", json={"owner": b.id})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "admin_only")
    given = gateway.admin.client.patch(f"/knowledge-bases/{name}", json={"owner": f"key:{b.id}"})
    assert given.json()["owner"] == f"key:{b.id}"
    assert name in b.kbs()
    assert name not in a.kbs()
    assert b.upload(name, "more.md").status_code == 200
    bad = gateway.admin.client.patch(f"/knowledge-bases/{name}", json={"shared_with": [{"grantee": "team a"}]})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "shared_with")
    deleted = gateway.admin.client.delete(f"/knowledge-bases/{name}")
    assert deleted.json()["deleted"] is True
    assert name not in gateway.admin.kbs() | b.kbs()


def test_only_the_admin_registers_a_bedrock_knowledge_base(gateway: Gateway) -> None:
    """A managed knowledge base reaches whatever the gateway's AWS credentials reach — in the emulator, any local
    knowledge base by its id — so a key cannot register one to read another owner's."""
    a, b = gateway.key("victim"), gateway.key("thief")
    name = gateway.owned(a, "a-secret")
    emulator_id = a.client.get(f"/knowledge-bases/{name}").json()["emulator_knowledge_base_id"]
    refused = b.client.post("/knowledge-bases", json={"name": "b-window", "knowledge_base_id": emulator_id})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "admin_only")
    assert "b-window" not in gateway.admin.kbs()


def test_knowledge_bases_made_before_owners_are_the_admins(gateway: Gateway) -> None:
    """A knowledge base file without an ownership row (made before owners were recorded) belongs to the admin."""
    a = gateway.key("latecomer")
    made = gateway.admin.client.post("/knowledge-bases", json={"name": "legacy"})
    assert made.status_code == 201
    with sqlite3.connect(gateway.data / "kb" / "legacy.sqlite") as db:
        db.execute("DELETE FROM meta WHERE key = 'ownership'")
    assert "legacy" not in a.kbs()
    assert a.retrieve("legacy").status_code == 404
    shown = gateway.admin.client.get("/knowledge-bases/legacy").json()
    assert (shown["owner"], shown["shared_with"]) == ("admin", [])


def test_a_toolbox_user_owns_what_it_makes(gateway: Gateway) -> None:
    ada, bob = gateway.user("u:ada"), gateway.user("u:bob")
    team = gateway.key("a team key")
    name = gateway.owned(ada, "ada-notes")
    assert ada.client.get(f"/knowledge-bases/{name}").json()["owner"] == "user:u:ada"
    assert name not in bob.kbs() | team.kbs()
    assert bob.retrieve(name).status_code == 404
    assert ada.share(name, "user:u:bob").status_code == 200
    assert name in bob.kbs()
    assert name not in team.kbs()
    assert bob.client.delete(f"/knowledge-bases/{name}").status_code == 403
    assert "25 days" in bob.chat(f"kb:{name}").json()["choices"][0]["message"]["content"]


def test_the_toolbox_client_follows_its_users_credential(gateway: Gateway) -> None:
    """The Knowledge tab's client calls the API with the signed-in user's own credential: it lists that user's
    knowledge bases only, and another's is not found."""
    credentials = ToolboxCredentials(hashlib.sha256(SECRET.encode()).digest())
    gateway.owned(gateway.user("u:cleo"), "cleo-notes")

    async def scenario() -> tuple[list[str], list[str]]:
        async with httpx2.AsyncClient(timeout=30, trust_env=False) as http:
            cleo = KnowledgeClient(ToolboxClient(gateway.url, credentials.issue("u:cleo"), "u:cleo", http))
            dan = KnowledgeClient(ToolboxClient(gateway.url, credentials.issue("u:dan"), "u:dan", http))
            with pytest.raises(openai.NotFoundError, match="no knowledge base named 'cleo-notes'"):
                await dan.documents("cleo-notes")
            theirs, others = await cleo.knowledge_bases(), await dan.knowledge_bases()
            return [kb["name"] for kb in theirs], [kb["name"] for kb in others]

    # on a thread of its own: when the browser tests run in the same session, Playwright keeps a loop in this one
    with ThreadPoolExecutor(1) as pool:
        theirs, others = pool.submit(asyncio.run, scenario()).result()
    assert "cleo-notes" in theirs
    assert "cleo-notes" not in others
