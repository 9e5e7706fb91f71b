"""BedrockRetriever against the emulator over real sockets: Retrieve's results become Hits named after their
sources, and a Query's mode, size, filter and minimum score become Retrieve's settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiobotocore.session import AioSession

from quarry.bedrock import BedrockAgentRuntime
from quarry.emulator import EmulatorApp
from quarry.errors import InvalidRequest, NotFound
from quarry.kb._bedrock_retriever import BedrockRetriever, hit_from_result
from quarry.kb._models import KnowledgeBaseConfig, Query
from quarry.settings import BedrockSettings

KB = "MANAGEDKB1"
REPORT = "s3://reports/2024/Annual%20Report.pdf"


def _result(text: str, score: float, location: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"content": {"text": text, "type": "TEXT"}, "location": location, "score": score}
    if metadata:
        result["metadata"] = metadata
    return result


RESULTS = [
    _result(
        "Revenue grew by twelve percent.",
        0.91,
        {"type": "S3", "s3Location": {"uri": REPORT}},
        **{
            "x-amz-bedrock-kb-source-uri": REPORT,
            "x-amz-bedrock-kb-document-page-number": 3.0,
            "x-amz-bedrock-kb-chunk-id": "1%3A0%3AAbCdEf",
            "department": "finance",
        },
    ),
    _result(
        "Costs fell in the second half.",
        0.84,
        {"type": "S3", "s3Location": {"uri": REPORT}},
        **{"x-amz-bedrock-kb-source-uri": REPORT, "x-amz-bedrock-kb-document-page-number": 7.0},
    ),
    _result("Our pricing page.", 0.7, {"type": "WEB", "webLocation": {"url": "https://example.com/pricing/"}}),
    _result(
        "Team wiki on releases.",
        0.55,
        {"type": "CONFLUENCE", "confluenceLocation": {"url": "https://wiki.example.com/display/ENG/Releases"}},
    ),
    _result("A ticket note.", 0.4, {"type": "CUSTOM", "customDocumentLocation": {"id": "ticket-4711"}}),
    {
        "content": {"type": "ROW", "row": [{"columnName": "region", "columnValue": "EU", "type": "STRING"}]},
        "location": {"type": "SQL", "sqlLocation": {"query": "SELECT region FROM sales"}},
        "score": 0.3,
    },
    {"content": {"type": "IMAGE", "byteContent": "data:image/png;base64,AAAA"}, "location": {"type": "S3"}},
]


@dataclass
class Managed:
    """A knowledge provider standing in for a managed knowledge base: the same results whatever the query."""

    calls: list[tuple[str, int, str, dict[str, Any] | None]] = field(default_factory=list)

    async def retrieve(
        self,
        knowledge_base_id: str,
        text: str,
        number_of_results: int,
        search_type: str,
        filter: dict[str, Any] | None,
    ) -> list[dict[str, Any]] | None:
        if knowledge_base_id != KB:
            return None
        self.calls.append((text, number_of_results, search_type, filter))
        return RESULTS[:number_of_results]


@pytest.fixture(scope="module")
def provider() -> Managed:
    return Managed()


@pytest.fixture(scope="module")
def emulator_url(serve: Any, provider: Managed) -> str:
    url: str = serve(EmulatorApp(knowledge=provider)).url
    return url


@pytest.fixture
async def agent(emulator_url: str) -> AsyncIterator[BedrockAgentRuntime]:
    keys = {"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "secret"}
    agent = BedrockAgentRuntime(
        AioSession(), region="us-east-1", endpoint_url=emulator_url, settings=BedrockSettings(), credentials=keys
    )
    yield agent
    await agent.aclose()


def _config(**options: Any) -> KnowledgeBaseConfig:
    return KnowledgeBaseConfig(name="reports", kind="bedrock", knowledge_base_id=KB, **options)


async def test_results_become_hits_named_after_their_sources(agent: BedrockAgentRuntime) -> None:
    hits = await BedrockRetriever(agent, _config()).retrieve(Query("revenue", top_k=10))
    assert [hit.document.name for hit in hits] == [
        "Annual Report.pdf",
        "Annual Report.pdf",
        "pricing",  # a trailing slash does not leave a URL nameless
        "Releases",
        "ticket-4711",
        "SELECT region FROM sales",
    ]  # the image result, with no text to cite, is left out
    first, second = hits[0], hits[1]
    assert first.document.source == REPORT
    assert first.document.media_type == "application/pdf"
    assert first.document.metadata["department"] == "finance"
    assert first.document.id == second.document.id  # one document, however many of its chunks are found
    assert first.document.id != hits[2].document.id
    assert first.chunk.document_id == first.document.id
    assert (first.chunk.text, first.chunk.page, first.chunk.id) == (
        "Revenue grew by twelve percent.",
        3,
        "1%3A0%3AAbCdEf",
    )
    assert second.chunk.page == 7
    assert first.chunk.id != second.chunk.id
    assert [hit.score for hit in hits] == [0.91, 0.84, 0.7, 0.55, 0.4, 0.3]
    assert hits[5].chunk.text == "region: EU"
    assert hits[2].document.source == "https://example.com/pricing/"
    assert hits[2].chunk.page is None


async def test_ids_are_stable_across_calls(agent: BedrockAgentRuntime) -> None:
    retriever = BedrockRetriever(agent, _config())
    again = [(hit.document.id, hit.chunk.id) for hit in await retriever.retrieve(Query("x", top_k=5))]
    assert again == [(hit.document.id, hit.chunk.id) for hit in await retriever.retrieve(Query("y", top_k=5))]


async def test_min_score_drops_weaker_hits(agent: BedrockAgentRuntime) -> None:
    hits = await BedrockRetriever(agent, _config()).retrieve(Query("revenue", top_k=10, min_score=0.6))
    assert [hit.score for hit in hits] == [0.91, 0.84, 0.7]


@pytest.mark.parametrize(
    ("mode", "configured", "expected"),
    [
        ("hybrid", None, "HYBRID"),
        ("hybrid", "SEMANTIC", "SEMANTIC"),
        ("vector", None, "SEMANTIC"),
        ("keyword", None, "SEMANTIC"),  # Bedrock has no keyword-only search
        ("vector", "HYBRID", "SEMANTIC"),
    ],
)
async def test_query_settings_become_retrieve_settings(
    agent: BedrockAgentRuntime, provider: Managed, mode: Any, configured: Any, expected: str
) -> None:
    query_filter = {"equals": {"key": "department", "value": "finance"}}
    retriever = BedrockRetriever(agent, _config(search_type=configured))
    hits = await retriever.retrieve(Query("revenue growth", top_k=2, mode=mode, filter=query_filter))
    assert len(hits) == 2
    assert provider.calls[-1] == ("revenue growth", 2, expected, query_filter)


async def test_top_k_beyond_bedrocks_ceiling_asks_for_the_most_it_gives(
    agent: BedrockAgentRuntime, provider: Managed
) -> None:
    await BedrockRetriever(agent, _config()).retrieve(Query("revenue", top_k=500))
    assert provider.calls[-1][1] == 100


async def test_unknown_or_missing_knowledge_base(agent: BedrockAgentRuntime) -> None:
    config = KnowledgeBaseConfig(name="gone", kind="bedrock", knowledge_base_id="NOSUCHKB00")
    with pytest.raises(NotFound, match="NOSUCHKB00"):
        await BedrockRetriever(agent, config).retrieve(Query("x"))
    with pytest.raises(InvalidRequest, match="no Bedrock knowledge base id"):
        BedrockRetriever(agent, KnowledgeBaseConfig(name="local"))


@pytest.mark.parametrize(
    ("result", "source", "name"),
    [
        (
            {"location": {"type": "WEB", "webLocation": {"url": "https://example.com/"}}},
            "https://example.com/",
            "example.com",
        ),
        (
            {"location": {"type": "S3"}, "metadata": {"x-amz-bedrock-kb-source-uri": "s3://b/k/a.md"}},
            "s3://b/k/a.md",
            "a.md",
        ),
        ({"documentId": "doc-9"}, "doc-9", "doc-9"),
        ({}, "bedrock", "bedrock"),
    ],
)
def test_sources_fall_back_to_metadata_then_the_document_id(result: dict[str, Any], source: str, name: str) -> None:
    hit = hit_from_result({"content": {"text": "t"}, **result})
    assert hit is not None
    assert (hit.document.source, hit.document.name, hit.score) == (source, name, 0.0)
