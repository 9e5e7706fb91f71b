"""The knowledge-base HTTP API end to end: `quarry serve`'s app on a socket over the in-process emulator, called
with httpx (uploads, Bedrock-shaped retrieval, answers, SSE) and the official OpenAI SDK (`kb:NAME` models)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.conftest import SDKs

KEY = "sk-kb-admin"
HANDBOOK = {
    "leave.md": b"# Leave\n\n## Annual leave\n\nEvery employee gets 25 days of paid annual leave each year. "
    b"Unused leave days may be carried over until the end of March.\n\n## Sick leave\n\nSick leave needs a "
    b"doctor's note after three consecutive days away.\n",
    "deploy.html": b"<html><head><title>Deploys</title></head><body><nav>Home | Wiki | Login</nav><main>"
    b"<h1>Deploy schedule</h1><p>Production deploys run every weekday at noon. A failed deploy rolls back "
    b"automatically within five minutes.</p></main><footer>Copyright ACME intranet</footer></body></html>",
    "oncall.txt": b"The on-call engineer answers pages within fifteen minutes, day and night.\n\n"
    b"Escalate to the platform lead when an incident lasts longer than an hour.\n",
}


@pytest.fixture(scope="module")
def kb_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kb-api")


@pytest.fixture(scope="module")
def gateway(serve: Any, kb_data: Path) -> str:
    settings = Settings(backend="emulator", api_key=KEY, keepalive_s=0.2, data_dir=kb_data)  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


@pytest.fixture(scope="module")
def client(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{gateway}/v1", headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def handbook(client: httpx.Client) -> str:
    """A knowledge base holding the three documents above, tagged."""
    created = client.post("/knowledge-bases", json={"name": "handbook", "description": "HR and engineering"})
    assert created.status_code == 201, created.text
    files = [("file", (name, data)) for name, data in HANDBOOK.items()]
    uploaded = client.post("/knowledge-bases/handbook/documents", files=files, data={"tags": "company"})
    assert uploaded.status_code == 200, uploaded.text
    assert sorted(uploaded.json()["added"]) == sorted(HANDBOOK)
    return "handbook"


def test_create_reports_the_settings_and_refuses_duplicates_and_bad_names(client: httpx.Client) -> None:
    created = client.post("/knowledge-bases", json={"name": "scratch", "chunk_tokens": 200, "overlap": 0.1})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "scratch"
    assert body["embedding_model"] == "amazon.titan-embed-text-v2:0"
    assert (body["chunk_tokens"], body["overlap"], body["documents"], body["chunks"]) == (200, 0.1, 0, 0)
    again = client.post("/knowledge-bases", json={"name": "scratch"})
    assert again.status_code == 409
    assert "exists already" in again.json()["error"]["message"]
    bad = client.post("/knowledge-bases", json={"name": "Bad Name!"})
    assert bad.status_code == 400
    assert "lowercase letters" in bad.json()["error"]["message"]
    wrong_model = client.post("/knowledge-bases", json={"name": "x1", "embedding_model": "amazon.nova-lite-v1:0"})
    assert wrong_model.status_code == 400
    assert "embedding model" in wrong_model.json()["error"]["message"]
    assert client.delete("/knowledge-bases/scratch").json()["deleted"] is True
    missing = client.get("/knowledge-bases/scratch")
    assert missing.status_code == 404
    assert "no knowledge base named 'scratch'" in missing.json()["error"]["message"]


def test_documents_are_listed_and_uploads_are_incremental(client: httpx.Client, handbook: str) -> None:
    listed = client.get(f"/knowledge-bases/{handbook}/documents").json()["data"]
    by_name = {document["name"]: document for document in listed}
    assert set(by_name) == set(HANDBOOK)
    assert by_name["deploy.html"]["media_type"] == "text/html"
    assert by_name["deploy.html"]["title"] == "Deploys"
    assert by_name["leave.md"]["tags"] == ["company"]
    again = client.post(
        f"/knowledge-bases/{handbook}/documents",
        files=[("file", ("oncall.txt", HANDBOOK["oncall.txt"]))],
        data={"tags": "company"},
    ).json()
    assert (again["unchanged"], again["added"], again["replaced"]) == (["oncall.txt"], [], [])


def test_retrieve_speaks_bedrocks_shape(client: httpx.Client, handbook: str) -> None:
    body = {
        "retrievalQuery": {"text": "how many days of annual leave do employees get"},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 2}},
    }
    results = client.post(f"/knowledge-bases/{handbook}/retrieve", json=body).json()["retrievalResults"]
    assert len(results) == 2
    top = results[0]
    assert "25 days of paid annual leave" in top["content"]["text"]
    assert top["content"]["type"] == "TEXT"
    assert top["location"] == {"type": "CUSTOM", "customDocumentLocation": {"id": "leave.md"}}
    assert top["metadata"]["x-amz-bedrock-kb-source-uri"] == "leave.md"
    assert top["metadata"]["quarry-headings"] == ["Leave", "Annual leave"]
    assert 0 < results[1]["score"] <= top["score"] <= 1


def test_retrieve_filters_by_document(client: httpx.Client, handbook: str) -> None:
    search = {"numberOfResults": 5, "filter": {"equals": {"key": "name", "value": "oncall.txt"}}}
    body = {"retrievalQuery": {"text": "leave days"}, "retrievalConfiguration": {"vectorSearchConfiguration": search}}
    results = client.post(f"/knowledge-bases/{handbook}/retrieve", json=body).json()["retrievalResults"]
    assert results
    assert {result["location"]["customDocumentLocation"]["id"] for result in results} == {"oncall.txt"}
    bad = client.post(
        f"/knowledge-bases/{handbook}/retrieve",
        json={
            "retrievalQuery": {"text": "x"},
            "retrievalConfiguration": {"vectorSearchConfiguration": {"filter": {"like": {}}}},
        },
    )
    assert bad.status_code == 400
    assert "unknown operator 'like'" in bad.json()["error"]["message"]


def test_answer_cites_its_sources(client: httpx.Client, handbook: str) -> None:
    answer = client.post(f"/knowledge-bases/{handbook}/answer", json={"question": "When do production deploys run?"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "noon" in body["answer"]
    assert body["citations"], body
    cited = [source for source in body["sources"] if source["cited"]]
    assert [source["n"] for source in cited] == body["citations"]
    assert cited[0]["document"] == "deploy.html"
    assert "every weekday at noon" in cited[0]["text"]


def test_answer_says_when_nothing_is_relevant(client: httpx.Client, handbook: str) -> None:
    body = client.post(
        f"/knowledge-bases/{handbook}/answer", json={"question": "Quelle est la capitale du Pérou?"}
    ).json()
    assert body["sources"] == []
    assert body["answer"].startswith('The knowledge base "handbook" has nothing relevant')


def test_answer_streams_sources_then_text_then_the_whole(client: httpx.Client, handbook: str) -> None:
    events: list[tuple[str, Any]] = []
    with client.stream(
        "POST",
        f"/knowledge-bases/{handbook}/answer",
        json={"question": "How fast are pages answered on call?", "stream": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, orjson.loads(line[6:])))
    names = [name for name, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    text = "".join(data["text"] for name, data in events if name == "delta")
    done = events[-1][1]
    assert done["answer"] == text
    assert "fifteen minutes" in text
    assert events[0][1]["sources"][0]["document"] == "oncall.txt"


def test_chat_completions_answer_from_a_knowledge_base(sdk: SDKs, gateway: str, handbook: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    completion = client.chat.completions.create(
        model=f"kb:{handbook}", messages=[{"role": "user", "content": "What happens when a deploy fails?"}]
    )
    message = completion.choices[0].message
    assert "rolls back" in (message.content or "")
    sources = message.model_extra["sources"]
    assert any(source["cited"] and source["document"] == "deploy.html" for source in sources)
    stream = client.chat.completions.create(
        model=f"kb:{handbook}:anthropic.claude-3-haiku-20240307-v1:0",
        messages=[{"role": "user", "content": "Can unused annual leave be carried over?"}],
        stream=True,
    )
    chunks = list(stream)
    first = chunks[0].choices[0].delta
    assert first.model_extra["sources"][0]["document"] == "leave.md"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert "carried over" in text
    assert "[" in text


def test_a_streamed_kb_answer_ends_with_the_sources_it_cites(sdk: SDKs, gateway: str, handbook: str) -> None:
    """The first chunk carries the passages as retrieved (nothing cited yet), the finishing chunk the same sources
    with `cited` set by the answer as written: what the whole answer's message carries."""
    client = sdk.openai(f"{gateway}/v1", KEY)
    stream = client.chat.completions.create(
        model=f"kb:{handbook}", messages=[{"role": "user", "content": "What happens when a deploy fails?"}], stream=True
    )
    chunks = [chunk for chunk in stream if chunk.choices]
    first, last = chunks[0].choices[0], chunks[-1].choices[0]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert not any(source["cited"] for source in first.delta.model_extra["sources"])
    assert last.finish_reason == "stop"
    sources = last.delta.model_extra["sources"]
    assert [source["n"] for source in sources] == [source["n"] for source in first.delta.model_extra["sources"]]
    written = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    assert written
    assert {source["n"] for source in sources if source["cited"]} == written
    assert any(source["cited"] and source["document"] == "deploy.html" for source in sources)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [('["hr", "policy, 2026"]', ["hr", "policy, 2026"]), (" hr, policy ,, ", ["hr", "policy"]), ("", [])],
)
def test_upload_tags_are_a_json_list_or_comma_separated(client: httpx.Client, tags: str, expected: list[str]) -> None:
    client.post("/knowledge-bases", json={"name": "tagged"})
    name = f"tags-{len(tags)}.md"
    files = [("file", (name, f"# Tagged\n\nTagged with {tags!r}.\n".encode()))]
    uploaded = client.post("/knowledge-bases/tagged/documents", files=files, data={"tags": tags})
    assert uploaded.json()["added"] == [name], uploaded.text
    documents = client.get("/knowledge-bases/tagged/documents").json()["data"]
    assert next(document["tags"] for document in documents if document["name"] == name) == expected


@pytest.mark.parametrize("tags", ['["hr", 3]', '["hr"', '[{"tag": "hr"}]'])
def test_bad_upload_tags_are_a_400_naming_tags(client: httpx.Client, tags: str) -> None:
    client.post("/knowledge-bases", json={"name": "tagged"})
    files = [("file", ("bad-tags.md", b"# Never stored\n"))]
    refused = client.post("/knowledge-bases/tagged/documents", files=files, data={"tags": tags})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "tags"
    assert "JSON" in error["message"]
    names = {document["name"] for document in client.get("/knowledge-bases/tagged/documents").json()["data"]}
    assert "bad-tags.md" not in names


def test_knowledge_bases_are_listed_as_chat_models(sdk: SDKs, gateway: str, handbook: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    ids = [model.id for model in client.models.list()]
    assert f"kb:{handbook}" in ids
    assert "anthropic.claude-3-haiku-20240307-v1:0" in ids


def test_chat_with_an_unknown_knowledge_base_is_a_404(sdk: SDKs, gateway: str) -> None:
    import openai

    client = sdk.openai(f"{gateway}/v1", KEY)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="kb:nope", messages=[{"role": "user", "content": "hi"}])
    assert "no knowledge base named 'nope'" in caught.value.message


def test_upload_progress_streams_and_bad_files_are_reported(
    client: httpx.Client, handbook: str, tmp_path: Path
) -> None:
    files = [("file", ("notes.md", b"# Notes\n\nThe office closes at six.\n")), ("file", ("blob.bin", b"\x00\x01"))]
    events = []
    with client.stream("POST", f"/knowledge-bases/{handbook}/documents?stream=true", files=files) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(orjson.loads(line[6:]))
    report = events[-1]
    assert report["object"] == "ingest.report"
    assert report["added"] == ["notes.md"]
    assert "blob.bin" in report["failed"]
    assert any(event.get("files") == 2 for event in events[:-1])
    removed = client.delete(f"/knowledge-bases/{handbook}/documents/notes.md").json()
    assert removed["deleted"] is True
    assert "notes.md" not in {d["name"] for d in client.get(f"/knowledge-bases/{handbook}/documents").json()["data"]}


def test_team_keys_reach_only_the_knowledge_bases_their_scopes_allow(
    client: httpx.Client, gateway: str, handbook: str
) -> None:
    made = httpx.post(
        f"{gateway}/admin/keys",
        json={"name": "hr", "models": ["kb:other", "anthropic.*"]},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    denied = httpx.post(
        f"{gateway}/v1/knowledge-bases/{handbook}/retrieve", json={"retrievalQuery": {"text": "leave"}}, headers=headers
    )
    assert denied.status_code == 403
    assert "may not use the knowledge base `handbook`" in denied.json()["error"]["message"]
    listed = httpx.get(f"{gateway}/v1/knowledge-bases", headers=headers).json()["data"]
    assert handbook not in {kb["name"] for kb in listed}
    assert httpx.get(f"{gateway}/v1/knowledge-bases").status_code == 401


def test_a_managed_knowledge_base_is_searched_through_bedrock_retrieve(client: httpx.Client, handbook: str) -> None:
    """`add-bedrock` over HTTP: the gateway calls bedrock-agent-runtime Retrieve on the (in-process) emulator,
    which answers from the local knowledge base with that id."""
    emulator_id = client.get(f"/knowledge-bases/{handbook}").json()["emulator_knowledge_base_id"]
    created = client.post("/knowledge-bases", json={"name": "managed", "knowledge_base_id": emulator_id})
    assert created.status_code == 201, created.text
    assert (created.json()["kind"], created.json()["knowledge_base_id"]) == ("bedrock", emulator_id)
    body = {
        "retrievalQuery": {"text": "doctor's note for sick leave"},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 1, "overrideSearchType": "HYBRID"}},
    }
    results = client.post("/knowledge-bases/managed/retrieve", json=body).json()["retrievalResults"]
    assert len(results) == 1
    assert "doctor's note" in results[0]["content"]["text"]
    assert results[0]["metadata"]["x-amz-bedrock-kb-source-uri"] == "leave.md"
    answer = client.post("/knowledge-bases/managed/answer", json={"question": "When is a doctor's note needed?"}).json()
    assert "three consecutive days" in answer["answer"]
    assert answer["sources"][0]["document"] == "leave.md"
    upload = client.post("/knowledge-bases/managed/documents", files=[("file", ("x.txt", b"x"))])
    assert upload.status_code == 400
    assert "managed in Bedrock" in upload.json()["error"]["message"]
    wrong = client.post("/knowledge-bases", json={"name": "ghost", "knowledge_base_id": "ABCDEFGHIJ"})
    assert wrong.status_code == 201
    missing = client.post("/knowledge-bases/ghost/retrieve", json={"retrievalQuery": {"text": "leave"}})
    assert missing.status_code == 404


def test_boto3_retrieves_from_a_local_knowledge_base_through_the_emulator(
    serve: Any, kb_data: Path, handbook: str
) -> None:
    import boto3

    from quarry.emulator import EmulatorApp, local_knowledge_base_id
    from quarry.server import emulated_knowledge, emulator_runtime

    settings = Settings(data_dir=kb_data)
    holder: list[str] = []
    knowledge = emulated_knowledge(
        settings, lambda: emulator_runtime(holder[0], "us-east-1", settings), owns_runtime=True
    )
    url = serve(EmulatorApp(knowledge=knowledge), lifespan="on").url
    holder.append(url)
    client = boto3.client(
        "bedrock-agent-runtime", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    try:
        answer = client.retrieve(
            knowledgeBaseId=local_knowledge_base_id(handbook),
            retrievalQuery={"text": "on-call engineer answers pages"},
            retrievalConfiguration={
                "vectorSearchConfiguration": {
                    "numberOfResults": 2,
                    "filter": {"equals": {"key": "x-amz-bedrock-kb-source-uri", "value": "oncall.txt"}},
                }
            },
        )
        results = answer["retrievalResults"]
        assert [r["location"]["customDocumentLocation"]["id"] for r in results] == ["oncall.txt"] * len(results)
        assert "fifteen minutes" in results[0]["content"]["text"]
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.retrieve(knowledgeBaseId="ABCDEFGHIJ", retrievalQuery={"text": "leave"})
    finally:
        client.close()
