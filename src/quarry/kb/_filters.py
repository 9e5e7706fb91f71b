"""Bedrock's RetrievalFilter, evaluated against documents: `{"equals": {"key": "tags", "value": "hr"}}`,
`{"andAll": [...]}`, … Keys are document fields (source, name, title, media_type, tags) or metadata keys;
`x-amz-bedrock-kb-source-uri` is an alias of source, so filters written for Bedrock work here too."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from quarry.errors import InvalidRequest
from quarry.kb._models import DocumentRecord

__all__ = ["allowed_documents", "check_filter", "matches"]

_ALIASES = {"x-amz-bedrock-kb-source-uri": "source"}
_FIELDS = ("source", "name", "title", "media_type", "tags")


def _value(document: DocumentRecord, key: str) -> Any:
    key = _ALIASES.get(key, key)
    if key in _FIELDS:
        value = getattr(document, key)
        return list(value) if key == "tags" else value
    return document.metadata.get(key)


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(actual: Any, expected: Any) -> bool:
        try:
            return actual is not None and op(actual, expected)
        except TypeError:  # a number compared with a string: no match, as Bedrock treats it
            return False

    return check


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return expected in actual
    return isinstance(actual, str) and isinstance(expected, str) and expected in actual


_LEAVES: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda actual, expected: actual == expected,
    "notEquals": lambda actual, expected: actual != expected,
    "greaterThan": _compare(lambda a, b: a > b),
    "greaterThanOrEquals": _compare(lambda a, b: a >= b),
    "lessThan": _compare(lambda a, b: a < b),
    "lessThanOrEquals": _compare(lambda a, b: a <= b),
    "in": lambda actual, expected: actual in expected,
    "notIn": lambda actual, expected: actual not in expected,
    "startsWith": lambda actual, expected: isinstance(actual, str) and actual.startswith(str(expected)),
    "listContains": lambda actual, expected: isinstance(actual, list) and expected in actual,
    "stringContains": _contains,
}
_GROUPS = ("andAll", "orAll")


def check_filter(spec: Any, path: str = "filter") -> None:
    """InvalidRequest, naming the place, unless `spec` is a well-formed RetrievalFilter."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise InvalidRequest(f"{path} must be an object with exactly one operator.", param=path)
    ((op, operand),) = spec.items()
    if op in _GROUPS:
        if not isinstance(operand, list) or len(operand) < 2:
            raise InvalidRequest(f"{path}.{op} must be a list of at least 2 filters.", param=path)
        for index, member in enumerate(operand):
            check_filter(member, f"{path}.{op}[{index}]")
        return
    if op not in _LEAVES:
        names = ", ".join([*_LEAVES, *_GROUPS])
        raise InvalidRequest(f"{path}: unknown operator {op!r}; one of {names}.", param=path)
    if not isinstance(operand, dict) or set(operand) != {"key", "value"} or not isinstance(operand["key"], str):
        raise InvalidRequest(f'{path}.{op} must be {{"key": string, "value": …}}.', param=path)
    if op in ("in", "notIn") and not isinstance(operand["value"], list):
        raise InvalidRequest(f"{path}.{op}.value must be a list.", param=path)


def matches(spec: dict[str, Any], document: DocumentRecord) -> bool:
    """Whether a document passes a (checked) filter."""
    ((op, operand),) = spec.items()
    if op == "andAll":
        return all(matches(member, document) for member in operand)
    if op == "orAll":
        return any(matches(member, document) for member in operand)
    return _LEAVES[op](_value(document, operand["key"]), operand["value"])


def allowed_documents(spec: dict[str, Any] | None, documents: Iterable[DocumentRecord]) -> set[str] | None:
    """Ids of the documents a filter lets through; None when there is no filter (everything passes)."""
    if spec is None:
        return None
    check_filter(spec)
    return {document.id for document in documents if matches(spec, document)}
