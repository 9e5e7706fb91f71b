"""A request is authenticated, authorised (model scopes, knowledge-base access) and admitted (rate limits) before
anything reaches Bedrock, on every route that calls it: the emulator's own request counts show that a refused
request made no upstream call at all."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarry.emulator import EmulatorApp
from quarry.server import create_app
from quarry.settings import Settings
from tests.conftest import set_aws_environment

ADMIN = "sk-admission-admin"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
HI = [{"role": "user", "content": "How many days of annual leave do employees get?"}]
LEAVE = b"# Leave\n\nEvery employee gets 25 days of paid annual leave each year.\n"

Call = Callable[[httpx.Client], httpx.Response]


@dataclass
class Gateway:
    url: str
    emulator: EmulatorApp

    def key(self, **fields: Any) -> httpx.Client:
        """A client with a new team key made through the admin API. `handbook` is shared with every key; `inbox`,
        where uploads go, is given to the newest key (only its owner may change it)."""
        admin = {"Authorization": f"Bearer {ADMIN}"}
        made = httpx.post(f"{self.url}/admin/keys", json={"name": "admission"} | fields, headers=admin)
        assert made.status_code == 201, made.text
        given = httpx.patch(
            f"{self.url}/v1/knowledge-bases/inbox", json={"owner": made.json()["id"]}, headers=admin, timeout=30
        )
        assert given.status_code == 200, given.text
        headers = {"Authorization": f"Bearer {made.json()['key']}"}
        return httpx.Client(base_url=f"{self.url}/v1", headers=headers, timeout=30)

    def refused(self, client: httpx.Client, call: Call) -> httpx.Response:
        """The response to `call`, which must not have reached the emulator at all."""
        before = dict(self.emulator.requests.by_operation)
        response = call(client)
        assert dict(self.emulator.requests.by_operation) == before, f"{response.status_code}: {response.text}"
        return response


@pytest.fixture(scope="module")
def gateway(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    emulator = EmulatorApp()
    emulator_url = serve(emulator).url
    folder: Path = tmp_path_factory.mktemp("admission")
    with pytest.MonkeyPatch.context() as patch:
        set_aws_environment(patch, folder, {"BEDROCK_RUNTIME": emulator_url, "BEDROCK": emulator_url})
        settings = Settings(backend="bedrock", api_key=ADMIN, data_dir=folder / "data", key_cache_ttl_s=0.1)  # type: ignore[arg-type]
        url = serve(create_app(settings), lifespan="on").url
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=f"{url}/v1", headers=admin, timeout=30) as client:
        for name in ("handbook", "inbox"):
            assert client.post("/knowledge-bases", json={"name": name}).status_code == 201
        shared = client.patch("/knowledge-bases/handbook", json={"shared_with": [{"grantee": "*"}]})
        assert shared.status_code == 200, shared.text
        uploaded = client.post("/knowledge-bases/handbook/documents", files=[("file", ("leave.md", LEAVE))])
        assert uploaded.status_code == 200, uploaded.text
        assert client.get("/models").status_code == 200  # the model catalog is fetched once, then cached
    return Gateway(url, emulator)


def _chat(model: str) -> Call:
    return lambda client: client.post("/chat/completions", json={"model": model, "messages": HI})


def _message(path: str) -> Call:
    body = {"model": "claude-3-haiku-20240307", "max_tokens": 20, "messages": HI}
    return lambda client: client.post(path, json=body, headers={"anthropic-version": "2023-06-01"})


def _completion(model: str) -> Call:
    return lambda client: client.post("/completions", json={"model": model, "prompt": ["Annual leave?", "Days?"]})


ROUTES: dict[str, Call] = {
    "chat": _chat(HAIKU),
    "kb chat": _chat("kb:handbook"),
    "kb chat with a model": _chat(f"kb:handbook:{HAIKU}"),
    "completions": _completion(HAIKU),
    "kb completions": _completion("kb:handbook"),
    "embeddings": lambda client: client.post("/embeddings", json={"model": TITAN, "input": "leave"}),
    "messages": _message("/messages"),
    "count tokens": _message("/messages/count_tokens"),
    "kb retrieve": lambda client: client.post(
        "/knowledge-bases/handbook/retrieve", json={"retrievalQuery": {"text": "annual leave"}}
    ),
    "kb answer": lambda client: client.post(
        "/knowledge-bases/handbook/answer", json={"question": "How much annual leave?", "model": HAIKU}
    ),
    # A new document each time, name and content, so that an admitted upload embeds it (the same content under
    # another name is stored once, and embeds nothing).
    "kb upload": lambda client: client.post(
        "/knowledge-bases/inbox/documents",
        files=[("file", (f"{uuid.uuid4()}.txt", f"The office closes at six. {uuid.uuid4()}".encode()))],
    ),
    "models": lambda client: client.get("/models"),
    "responses": lambda client: client.post("/responses", json={"model": HAIKU, "input": "leave?", "store": False}),
    "responses input tokens": lambda client: client.post(
        "/responses/input_tokens", json={"model": HAIKU, "input": "x"}
    ),
}


@pytest.mark.parametrize("route", ROUTES)
def test_a_key_over_its_rate_limit_never_reaches_bedrock(gateway: Gateway, route: str) -> None:
    call = ROUTES[route]
    with gateway.key(rpm=1) as client:
        first = call(client)
        assert first.status_code in (200, 201), first.text
        second = gateway.refused(client, call)
    assert second.status_code == 429, second.text
    assert "1 requests per minute" in second.text
    assert int(second.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("route", "models", "status", "code"),
    [
        ("chat", ["amazon.*"], 403, "model_not_allowed"),
        ("completions", ["amazon.*"], 403, "model_not_allowed"),
        ("kb completions", ["anthropic.*", "kb:other"], 403, "knowledge_base_not_allowed"),
        ("kb chat", ["kb:handbook"], 403, "model_not_allowed"),  # the knowledge base, not the model that answers
        ("kb chat with a model", ["kb:handbook", "amazon.*"], 403, "model_not_allowed"),
        ("kb chat", ["anthropic.*", "kb:other"], 403, "knowledge_base_not_allowed"),
        ("kb chat with a model", ["anthropic.*"], 403, "knowledge_base_not_allowed"),
        ("embeddings", ["anthropic.*"], 403, "model_not_allowed"),
        ("messages", ["amazon.*"], 403, None),
        ("count tokens", ["amazon.*"], 403, None),
        ("responses", ["amazon.*"], 403, "model_not_allowed"),
        ("responses input tokens", ["amazon.*"], 403, "model_not_allowed"),
        ("kb retrieve", ["anthropic.*"], 403, "knowledge_base_not_allowed"),
        ("kb answer", ["anthropic.*"], 403, "knowledge_base_not_allowed"),
        ("kb answer", ["kb:handbook"], 403, "model_not_allowed"),
        ("kb upload", ["kb:handbook"], 403, "knowledge_base_not_allowed"),
    ],
)
def test_a_request_outside_the_keys_scopes_never_reaches_bedrock(
    gateway: Gateway, route: str, models: list[str], status: int, code: str | None
) -> None:
    with gateway.key(models=models) as client:
        response = gateway.refused(client, ROUTES[route])
    assert response.status_code == status, response.text
    body = response.json()
    if route in ("messages", "count tokens"):  # Anthropic's envelope
        assert body["type"] == "error"
        assert body["error"]["type"] == "permission_error"
    else:
        assert body["error"]["code"] == code


@pytest.mark.parametrize(
    "call",
    [
        _chat("kb:nowhere"),
        _chat(f"kb:nowhere:{HAIKU}"),
        lambda client: client.post("/knowledge-bases/nowhere/retrieve", json={"retrievalQuery": {"text": "leave"}}),
        lambda client: client.post("/knowledge-bases/nowhere/answer", json={"question": "leave?"}),
    ],
    ids=["kb chat", "kb chat with a model", "kb retrieve", "kb answer"],
)
def test_an_unknown_knowledge_base_never_reaches_bedrock(gateway: Gateway, call: Call) -> None:
    with gateway.key() as client:
        response = gateway.refused(client, call)
    assert response.status_code == 404, response.text
    assert "no knowledge base named 'nowhere'" in response.json()["error"]["message"]


def test_a_forbidden_knowledge_base_is_refused_before_it_is_looked_up(gateway: Gateway) -> None:
    """A key that may not use `nowhere` is told so, not whether it exists."""
    with gateway.key(models=["anthropic.*"]) as client:
        response = gateway.refused(client, _chat("kb:nowhere"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "knowledge_base_not_allowed"


def test_an_admitted_kb_chat_searches_then_answers(gateway: Gateway) -> None:
    """The other side: once admitted, a `kb:` chat embeds the question and asks the model, once each."""
    with gateway.key(models=["kb:handbook", "anthropic.*"]) as client:
        before = dict(gateway.emulator.requests.by_operation)
        response = _chat("kb:handbook")(client)
    assert response.status_code == 200, response.text
    assert "25 days" in response.json()["choices"][0]["message"]["content"]
    after = gateway.emulator.requests.by_operation
    assert {op: after[op] - before.get(op, 0) for op in after if after[op] != before.get(op, 0)} == {
        "InvokeModel": 1,  # the question's embedding
        "Converse": 1,
    }


def test_an_admitted_kb_completion_searches_and_answers_each_prompt(gateway: Gateway) -> None:
    with gateway.key(models=["kb:handbook", "anthropic.*"]) as client:
        before = dict(gateway.emulator.requests.by_operation)
        response = _completion("kb:handbook")(client)
    assert response.status_code == 200, response.text
    choices = response.json()["choices"]
    assert [choice["index"] for choice in choices] == [0, 1]
    assert all("25 days" in choice["text"] for choice in choices)
    assert all(choice["sources"] for choice in choices)
    after = gateway.emulator.requests.by_operation
    assert {op: after[op] - before.get(op, 0) for op in after if after[op] != before.get(op, 0)} == {
        "InvokeModel": 2,  # each prompt's embedding
        "Converse": 2,
    }


@pytest.mark.parametrize(
    ("models", "allowed"),
    [
        ([], True),
        (["kb:handbook"], True),
        (["kb:hand*", "anthropic.*"], True),
        (["*"], True),
        (["anthropic.*"], False),
        (["kb:other", "anthropic.*"], False),
        (["kb:handbook:*", "anthropic.*"], False),
    ],
)
def test_the_http_api_kb_models_and_the_model_list_agree(gateway: Gateway, models: list[str], allowed: bool) -> None:
    """One rule: whether a key may use `handbook` is the same answer from each route that asks."""
    with gateway.key(models=models) as client:
        listed = {kb["name"] for kb in client.get("/knowledge-bases").json()["data"]}
        shown = client.get("/knowledge-bases/handbook")
        offered = {model["id"] for model in client.get("/models").json()["data"]}
        chat = _chat(f"kb:handbook:{HAIKU}")(client)
    assert ("handbook" in listed) is allowed
    assert ("kb:handbook" in offered) is allowed
    assert (shown.status_code == 200) is allowed
    chat_refused = chat.status_code == 403 and chat.json()["error"]["code"] == "knowledge_base_not_allowed"
    assert chat_refused is not allowed, chat.text
    if not allowed:
        assert shown.status_code == 403
        assert shown.json()["error"] == chat.json()["error"] | {"param": None}  # one error, one message, one code


def test_an_uploads_embedding_tokens_are_its_usage(gateway: Gateway) -> None:
    """An upload is admitted with no tokens reserved (they are unknown until the files are split); what it embedded
    is recorded when it ends, and so settled against the key's tokens per minute."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with gateway.key(name="uploader") as client:
        report = ROUTES["kb upload"](client).json()
    assert report["embedding_tokens"] > 0
    deadline = time.monotonic() + 10
    while True:  # the usage row is queued as the response ends
        rows = httpx.get(f"{gateway.url}/admin/usage?by=key", headers=admin).json()["data"]
        mine = [row for row in rows if row["name"] == "uploader"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [row["input_tokens"] for row in mine] == [report["embedding_tokens"]]


def test_a_running_background_response_holds_its_keys_concurrency_slot(gateway: Gateway) -> None:
    slow = {"model": HAIKU, "input": "[[emulator: delay=1500]] slowly", "background": True}
    with gateway.key(max_concurrency=1) as client:
        made = client.post("/responses", json=slow)
        assert made.status_code == 200, made.text
        # (Not gateway.refused: the background work's own Converse call may land meanwhile.)
        refused = client.post("/responses", json={"model": HAIKU, "input": "hi"})
        assert refused.status_code == 429, refused.text
        assert "1 requests at a time" in refused.text
        deadline = time.monotonic() + 20
        while client.get(f"/responses/{made.json()['id']}").json()["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.1)  # the slot is given back as the task ends, just after the store says completed
        assert client.post("/responses", json={"model": HAIKU, "input": "hi", "store": False}).status_code == 200
