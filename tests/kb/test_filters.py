"""Bedrock's RetrievalFilter over documents: every operator, nesting, and the errors for malformed filters."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.errors import InvalidRequest
from quarry.kb._filters import allowed_documents, check_filter
from quarry.kb._models import DocumentRecord


def _doc(doc_id: str, source: str, tags: tuple[str, ...] = (), **metadata: Any) -> DocumentRecord:
    return DocumentRecord(
        id=doc_id, source=source, name=source.rsplit("/", 1)[-1], content_hash="h", media_type="text/plain",
        tags=tags, metadata=metadata,
    )  # fmt: skip


DOCS = [
    _doc("a", "/docs/hr/leave.md", ("hr", "policy"), year=2024, team="people"),
    _doc("b", "/docs/eng/deploy.md", ("eng",), year=2025, team="platform"),
    _doc("c", "/docs/eng/oncall.pdf", ("eng", "policy"), year=2023),
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"equals": {"key": "name", "value": "deploy.md"}}, {"b"}),
        ({"notEquals": {"key": "team", "value": "people"}}, {"b", "c"}),
        ({"greaterThan": {"key": "year", "value": 2023}}, {"a", "b"}),
        ({"greaterThanOrEquals": {"key": "year", "value": 2024}}, {"a", "b"}),
        ({"lessThan": {"key": "year", "value": 2024}}, {"c"}),
        ({"lessThanOrEquals": {"key": "year", "value": 2024}}, {"a", "c"}),
        ({"in": {"key": "team", "value": ["people", "platform"]}}, {"a", "b"}),
        ({"notIn": {"key": "team", "value": ["people"]}}, {"b", "c"}),
        ({"startsWith": {"key": "source", "value": "/docs/eng/"}}, {"b", "c"}),
        ({"startsWith": {"key": "x-amz-bedrock-kb-source-uri", "value": "/docs/hr"}}, {"a"}),
        ({"listContains": {"key": "tags", "value": "policy"}}, {"a", "c"}),
        ({"stringContains": {"key": "source", "value": "oncall"}}, {"c"}),
        ({"stringContains": {"key": "tags", "value": "eng"}}, {"b", "c"}),
        ({"greaterThan": {"key": "year", "value": "2020"}}, set()),  # a string never compares with a number
        (
            {"andAll": [{"listContains": {"key": "tags", "value": "eng"}}, {"equals": {"key": "year", "value": 2023}}]},
            {"c"},
        ),
        (
            {
                "orAll": [
                    {"equals": {"key": "team", "value": "people"}},
                    {
                        "andAll": [
                            {"listContains": {"key": "tags", "value": "eng"}},
                            {"lessThan": {"key": "year", "value": 2024}},
                        ]
                    },
                ]
            },
            {"a", "c"},
        ),
    ],
)
def test_filters_select_documents(spec: dict[str, Any], expected: set[str]) -> None:
    assert allowed_documents(spec, DOCS) == expected


def test_no_filter_allows_everything() -> None:
    assert allowed_documents(None, DOCS) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "exactly one operator"),
        ({"equals": {"key": "a", "value": 1}, "in": {"key": "a", "value": [1]}}, "exactly one operator"),
        ({"like": {"key": "a", "value": 1}}, "unknown operator 'like'"),
        ({"equals": {"key": "a"}}, '{"key": string, "value": …}'),
        ({"in": {"key": "a", "value": 1}}, "filter.in.value must be a list"),
        ({"andAll": [{"equals": {"key": "a", "value": 1}}]}, "at least 2 filters"),
        ({"orAll": [{"equals": {"key": "a", "value": 1}}, {"nope": {}}]}, "filter.orAll[1]: unknown operator"),
        ("tags=hr", "exactly one operator"),
    ],
)
def test_malformed_filters_are_refused_with_the_place(spec: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_filter(spec)
    assert message in caught.value.message
