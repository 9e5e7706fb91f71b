"""Retrieve (bedrock-agent-runtime) against the emulator with the official boto3 client: Bedrock's wire format,
its request validation and errors, answered from a knowledge provider given to the emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from quarry.emulator import EmulatorApp, local_knowledge_base_id
from quarry.emulator._errors import AccessDeniedException, ThrottlingException
from tests.emulator.conftest import CREDENTIALS, NO_RETRIES

KB = local_knowledge_base_id("handbook")
KB_ARN = f"arn:aws:bedrock:us-east-1:123456789012:knowledge-base/{KB}"
THROTTLED = "THROTTLED1"  # ids the provider answers with Bedrock's errors
FORBIDDEN = "FORBIDDEN1"
PASSAGES = {
    "s3://handbook/leave.md": "Employees get twenty days of paid leave each year.",
    "s3://handbook/expenses.md": "Travel expenses are paid back within ten days of the claim.",
    "s3://handbook/security.md": "Laptops must use disk encryption and a screen lock.",
    "s3://handbook/onboarding.md": "New employees meet their mentor on the first day.",
    "s3://handbook/remote.md": "Employees may work remotely two days each week.",
    "s3://handbook/benefits.md": "Paid parental leave is sixteen weeks for every parent.",
}
CHECKS = "retrievalConfiguration.vectorSearchConfiguration"


@dataclass
class Call:
    knowledge_base_id: str
    text: str
    number_of_results: int
    search_type: str
    filter: dict[str, Any] | None


@dataclass
class Passages:
    """A knowledge provider holding a few passages, ranked by the share of the query's words they contain."""

    passages: dict[str, str] = field(default_factory=lambda: dict(PASSAGES))
    knowledge_base_id: str = KB
    calls: list[Call] = field(default_factory=list)

    async def aclose(self) -> None:
        """Nothing to close: the passages live in memory."""

    async def retrieve(
        self,
        knowledge_base_id: str,
        text: str,
        number_of_results: int,
        search_type: str,
        filter: dict[str, Any] | None,
    ) -> list[dict[str, Any]] | None:
        self.calls.append(Call(knowledge_base_id, text, number_of_results, search_type, filter))
        if knowledge_base_id == THROTTLED:
            raise ThrottlingException()
        if knowledge_base_id == FORBIDDEN:
            raise AccessDeniedException("You are not authorized to query this knowledge base.")
        if knowledge_base_id != self.knowledge_base_id:
            return None
        words = set(re.findall(r"\w+", text.lower()))
        scored = []
        for uri, passage in self.passages.items():
            overlap = len(words & set(re.findall(r"\w+", passage.lower()))) / max(len(words), 1)
            if overlap:
                scored.append((overlap, uri, passage))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [
            {
                "content": {"text": passage, "type": "TEXT"},
                "location": {"type": "S3", "s3Location": {"uri": uri}},
                "score": score,
                "metadata": {"x-amz-bedrock-kb-source-uri": uri, "x-amz-bedrock-kb-chunk-id": f"chunk-{i}"},
            }
            for i, (score, uri, passage) in enumerate(scored[:number_of_results])
        ]


@pytest.fixture(scope="module")
def provider() -> Passages:
    return Passages()


@pytest.fixture(scope="module")
def knowledge_url(serve: Any, provider: Passages) -> str:
    url: str = serve(EmulatorApp(knowledge=provider)).url
    return url


def _agent(url: str, *, validate: bool = True) -> Any:
    # Without client-side validation, boto3 sends what it is given and the emulator's own checks answer.
    config = NO_RETRIES.merge(Config(parameter_validation=validate))
    options = {"endpoint_url": url, "region_name": "us-east-1", "config": config, **CREDENTIALS}
    return boto3.client("bedrock-agent-runtime", **options)


@pytest.fixture(scope="module")
def agent(knowledge_url: str) -> Iterator[Any]:
    client = _agent(knowledge_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def raw_agent(knowledge_url: str) -> Iterator[Any]:
    client = _agent(knowledge_url, validate=False)
    yield client
    client.close()


def test_results_in_bedrock_shape_best_first(agent: Any, provider: Passages) -> None:
    answer = agent.retrieve(knowledgeBaseId=KB, retrievalQuery={"text": "How many days of paid leave?"})
    results = answer["retrievalResults"]
    assert results[0]["content"] == {"text": PASSAGES["s3://handbook/leave.md"], "type": "TEXT"}
    assert results[0]["location"] == {"type": "S3", "s3Location": {"uri": "s3://handbook/leave.md"}}
    assert results[0]["metadata"]["x-amz-bedrock-kb-source-uri"] == "s3://handbook/leave.md"
    scores = [result["score"] for result in results]
    assert scores == sorted(scores, reverse=True)
    assert 0 < scores[-1] <= scores[0] <= 1
    assert "nextToken" not in answer
    assert "guardrailAction" not in answer
    # Without a retrievalConfiguration, Bedrock's defaults reach the provider.
    assert provider.calls[-1] == Call(KB, "How many days of paid leave?", 5, "SEMANTIC", None)


def test_five_results_unless_asked_otherwise(agent: Any) -> None:
    text = "employees paid and the"  # every passage holds one of these words
    assert len(agent.retrieve(knowledgeBaseId=KB, retrievalQuery={"text": text})["retrievalResults"]) == 5
    search = {"vectorSearchConfiguration": {"numberOfResults": 100}}
    answer = agent.retrieve(knowledgeBaseId=KB, retrievalQuery={"text": text}, retrievalConfiguration=search)
    assert len(answer["retrievalResults"]) == len(PASSAGES)


def test_number_of_results_search_type_and_filter_reach_the_provider(agent: Any, provider: Passages) -> None:
    query_filter = {
        "andAll": [
            {"equals": {"key": "team", "value": "people"}},
            {"in": {"key": "year", "value": [2024, 2025]}},
        ]
    }
    search = {"numberOfResults": 2, "overrideSearchType": "HYBRID", "filter": query_filter}
    answer = agent.retrieve(
        knowledgeBaseId=KB,
        retrievalQuery={"text": "paid leave for employees"},
        retrievalConfiguration={"vectorSearchConfiguration": search},
    )
    assert len(answer["retrievalResults"]) == 2
    assert provider.calls[-1] == Call(KB, "paid leave for employees", 2, "HYBRID", query_filter)


def test_an_arn_names_the_knowledge_base_too(agent: Any, provider: Passages) -> None:
    answer = agent.retrieve(knowledgeBaseId=KB_ARN, retrievalQuery={"text": "disk encryption"})
    assert answer["retrievalResults"][0]["location"]["s3Location"]["uri"] == "s3://handbook/security.md"
    assert provider.calls[-1].knowledge_base_id == KB


def test_a_guardrail_never_intervenes(agent: Any) -> None:
    answer = agent.retrieve(
        knowledgeBaseId=KB,
        retrievalQuery={"text": "mentor"},
        guardrailConfiguration={"guardrailId": "abc123", "guardrailVersion": "DRAFT"},
    )
    assert answer["guardrailAction"] == "NONE"
    assert answer["retrievalResults"][0]["location"]["s3Location"]["uri"] == "s3://handbook/onboarding.md"


def test_local_ids_look_like_bedrock_ids() -> None:
    assert re.fullmatch(r"[0-9A-Z]{10}", KB)
    assert local_knowledge_base_id("handbook") == KB != local_knowledge_base_id("handbook2")


def _error(call: Any, **request: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**request)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_unknown_knowledge_base_is_not_found(agent: Any) -> None:
    status, code, message = _error(agent.retrieve, knowledgeBaseId="NOSUCHKB00", retrievalQuery={"text": "x"})
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == "Knowledge base NOSUCHKB00 does not exist."


def test_without_a_provider_every_knowledge_base_is_unknown(emulator_url: str) -> None:
    client = _agent(emulator_url)
    try:
        status, code, _ = _error(client.retrieve, knowledgeBaseId=KB, retrievalQuery={"text": "leave"})
    finally:
        client.close()
    assert (status, code) == (404, "ResourceNotFoundException")


def test_provider_errors_are_answered_as_bedrock_errors(agent: Any) -> None:
    assert _error(agent.retrieve, knowledgeBaseId=THROTTLED, retrievalQuery={"text": "x"})[:2] == (
        429,
        "ThrottlingException",
    )
    assert _error(agent.retrieve, knowledgeBaseId=FORBIDDEN, retrievalQuery={"text": "x"}) == (
        403,
        "AccessDeniedException",
        "You are not authorized to query this knowledge base.",
    )


def _search(**configuration: Any) -> dict[str, Any]:
    return {"vectorSearchConfiguration": configuration}


def _single(path: str, value: str, rule: str) -> str:
    return f"1 validation error detected: Value {value} at '{path}' failed to satisfy constraint: {rule}"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        pytest.param(
            {"retrievalConfiguration": _search(numberOfResults=0)},
            _single(f"{CHECKS}.numberOfResults", "'0'", "Member must have value greater than or equal to 1"),
            id="too-few-results",
        ),
        pytest.param(
            {"retrievalConfiguration": _search(numberOfResults=101)},
            _single(f"{CHECKS}.numberOfResults", "'101'", "Member must have value less than or equal to 100"),
            id="too-many-results",
        ),
        pytest.param(
            {"retrievalConfiguration": _search(overrideSearchType="KEYWORD")},
            _single(
                f"{CHECKS}.overrideSearchType", "'KEYWORD'", "Member must satisfy enum value set: [HYBRID, SEMANTIC]"
            ),
            id="search-type",
        ),
        pytest.param(
            {"retrievalQuery": None},
            _single("retrievalQuery", "null", "Member must not be null"),
            id="no-query",
        ),
        pytest.param(
            {"retrievalQuery": {}},
            _single("retrievalQuery.text", "null", "Member must not be null"),
            id="no-text",
        ),
        pytest.param(
            {"retrievalQuery": {"text": "x" * 20001}},
            _single("retrievalQuery.text", f"'{'x' * 20001}'", "Member must have length less than or equal to 20000"),
            id="long-text",
        ),
        pytest.param(
            {"retrievalConfiguration": _search(filter={"andAll": [{"equals": {"key": "a", "value": 1}}]})},
            _single(
                f"{CHECKS}.filter.andAll",
                '\'[{"equals":{"key":"a","value":1}}]\'',
                "Member must have length greater than or equal to 2",
            ),
            id="andAll-of-one",
        ),
        pytest.param(
            {
                "retrievalConfiguration": _search(
                    filter={"equals": {"key": "a", "value": 1}, "notEquals": {"key": "b", "value": 2}}
                )
            },
            _single(
                f"{CHECKS}.filter",
                '\'{"equals":{"key":"a","value":1},"notEquals":{"key":"b","value":2}}\'',
                "Member must have exactly one member set",
            ),
            id="two-operators",
        ),
        pytest.param(
            {"retrievalConfiguration": _search(filter={"orAll": [{"equals": {"value": 1}}, {"startsWith": {}}]})},
            "3 validation errors detected: "
            f"Value null at '{CHECKS}.filter.orAll.1.member.equals.key' failed to satisfy constraint: "
            "Member must not be null; "
            f"Value null at '{CHECKS}.filter.orAll.2.member.startsWith.key' failed to satisfy constraint: "
            "Member must not be null; "
            f"Value null at '{CHECKS}.filter.orAll.2.member.startsWith.value' failed to satisfy constraint: "
            "Member must not be null",
            id="nested-members",
        ),
        pytest.param(
            {"retrievalConfiguration": _search(filter={"greaterThan": {"key": "year", "value": "2020"}})},
            f"Invalid filter at '{CHECKS}.filter.greaterThan': greaterThan compares with a number.",
            id="comparison-with-text",
        ),
        pytest.param(
            {"retrievalConfiguration": _search(filter={"in": {"key": "year", "value": 2020}})},
            f"Invalid filter at '{CHECKS}.filter.in': in takes a non-empty list of strings or numbers.",
            id="in-without-list",
        ),
        pytest.param(
            {"nextToken": "never-issued"},
            "The nextToken provided is invalid.",
            id="foreign-next-token",
        ),
    ],
)
def test_validation_errors_are_worded_as_bedrock_words_them(
    raw_agent: Any, provider: Passages, request_: dict[str, Any], message: str
) -> None:
    calls = len(provider.calls)
    request = {"knowledgeBaseId": KB, "retrievalQuery": {"text": "leave"}} | request_
    request = {key: value for key, value in request.items() if value is not None}
    assert _error(raw_agent.retrieve, **request) == (400, "ValidationException", message)
    assert len(provider.calls) == calls, "an invalid request never reaches the knowledge base"


def test_knowledge_base_id_pattern_and_length(raw_agent: Any) -> None:
    status, code, message = _error(raw_agent.retrieve, knowledgeBaseId="my-kb", retrievalQuery={"text": "x"})
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("2 validation errors detected: Value 'my-kb' at 'knowledgeBaseId' failed to satisfy ")
    assert "Member must have length greater than or equal to 10" in message
    assert "Member must satisfy regular expression pattern: ^[0-9a-zA-Z]{10}$|^arn:aws" in message


def test_malformed_json_is_a_validation_error(knowledge_url: str) -> None:
    import httpx

    answer = httpx.post(
        f"{knowledge_url}/knowledgebases/{KB}/retrieve",
        content=b"{not json",
        headers={"authorization": "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request"},
    )
    assert answer.status_code == 400
    assert answer.headers["x-amzn-errortype"].startswith("ValidationException:")
    assert answer.json() == {"message": "Malformed input request, please reformat your input and try again."}
