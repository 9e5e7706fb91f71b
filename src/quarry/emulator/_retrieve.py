"""Retrieve (`bedrock-agent-runtime`): Bedrock's request validation, answered from an injected knowledge provider.

The emulator keeps no knowledge bases of its own and imports nothing from `quarry.kb`: whoever starts it passes a
`KnowledgeProvider`, which answers for the knowledge-base ids it knows.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from quarry.emulator._errors import ResourceNotFoundException, ValidationException

__all__ = [
    "DEFAULT_SEARCH_TYPE",
    "KnowledgeProvider",
    "RetrieveRequest",
    "local_knowledge_base_id",
    "parse_retrieve",
    "retrieve",
]

# Without overrideSearchType Bedrock "decides"; for every vector store but OpenSearch with a text field that is
# SEMANTIC, the only search it has.
DEFAULT_SEARCH_TYPE = "SEMANTIC"
SEARCH_TYPES = ("HYBRID", "SEMANTIC")
_ID_PATTERN = r"^[0-9a-zA-Z]{10}$|^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:knowledge-base/[0-9a-zA-Z]{10}$"
_ID = re.compile(_ID_PATTERN)
_NEXT_TOKEN_PATTERN = r"^\S*$"  # noqa: S105  # a pattern, not a secret
_COMPARISONS = ("greaterThan", "greaterThanOrEquals", "lessThan", "lessThanOrEquals")
_MEMBERSHIP = ("in", "notIn")
_TEXT_MATCHES = ("startsWith", "stringContains")
_SCALAR_MATCHES = ("equals", "notEquals", "listContains")
_GROUPS = ("andAll", "orAll")
_OPERATORS = frozenset((*_COMPARISONS, *_MEMBERSHIP, *_TEXT_MATCHES, *_SCALAR_MATCHES, *_GROUPS))
_MALFORMED = "Malformed input request, please reformat your input and try again."


class KnowledgeProvider(Protocol):
    """The knowledge bases the emulator answers Retrieve from; closed when the emulator's lifespan ends."""

    async def aclose(self) -> None: ...

    async def retrieve(
        self,
        knowledge_base_id: str,
        text: str,
        number_of_results: int,
        search_type: str,
        filter: dict[str, Any] | None,
    ) -> list[dict[str, Any]] | None:
        """Up to `number_of_results` retrievalResults items in Bedrock's shape (content, location, score,
        metadata), best first; None when there is no knowledge base with this id. May raise the emulator's
        `BedrockError`s (ThrottlingException, AccessDeniedException, …) to answer with that error."""
        ...


def local_knowledge_base_id(name: str) -> str:
    """A stable Bedrock-shaped id (10 upper-case letters and digits) for a knowledge base known by name.

    Bedrock's ids match `[0-9a-zA-Z]{10}`, and every AWS client checks at least their length, so a local
    knowledge base called `docs` is reached as `local_knowledge_base_id("docs")`.
    """
    return base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:10]


@dataclass(frozen=True, slots=True)
class RetrieveRequest:
    knowledge_base_id: str  # the bare 10-character id, also when the caller named an ARN
    text: str
    number_of_results: int = 5
    search_type: str = DEFAULT_SEARCH_TYPE
    filter: dict[str, Any] | None = None
    guardrail: bool = False


class _Violations:
    """Constraint failures, collected and reported together the way AWS's validation layer words them."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def null(self, path: str) -> None:
        self.found.append(f"Value null at '{path}' failed to satisfy constraint: Member must not be null")

    def value(self, value: Any, path: str, rule: str) -> None:
        shown = value if isinstance(value, str) else orjson.dumps(value).decode()
        self.found.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: {rule}")

    def length(self, value: str | list[Any], path: str, low: int, high: int | None = None) -> None:
        if len(value) < low:
            self.value(value, path, f"Member must have length greater than or equal to {low}")
        elif high is not None and len(value) > high:
            self.value(value, path, f"Member must have length less than or equal to {high}")

    def check(self) -> None:
        if self.found:
            count = len(self.found)
            noun = "error" if count == 1 else "errors"
            raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(self.found))


def _object(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationException(_MALFORMED)
    return value


def _check_filter(node: Any, path: str, errors: _Violations) -> None:
    if not isinstance(node, dict):
        raise ValidationException(_MALFORMED)
    members = [key for key, value in node.items() if key in _OPERATORS and value is not None]
    if len(members) != 1:  # RetrievalFilter is a union: one operator per filter object
        errors.value(node, path, "Member must have exactly one member set")
        return
    operator = members[0]
    operand, here = node[operator], f"{path}.{operator}"
    if operator in _GROUPS:
        if not isinstance(operand, list):
            raise ValidationException(_MALFORMED)
        errors.length(operand, here, 2)
        for index, member in enumerate(operand, 1):
            _check_filter(member, f"{here}.{index}.member", errors)
        return
    if not isinstance(operand, dict):
        raise ValidationException(_MALFORMED)
    key = operand.get("key")
    if key is None:
        errors.null(f"{here}.key")
    elif not isinstance(key, str):
        raise ValidationException(_MALFORMED)
    else:
        errors.length(key, f"{here}.key", 1, 100)
    if operand.get("value") is None:
        errors.null(f"{here}.value")


def _operand_error(node: dict[str, Any], path: str) -> str | None:
    """What is wrong with a filter's values for their operators (checked once the shape is sound)."""
    operator = next(key for key in node if key in _OPERATORS and node[key] is not None)
    here = f"{path}.{operator}"
    if operator in _GROUPS:
        for index, member in enumerate(node[operator], 1):
            if problem := _operand_error(member, f"{here}.{index}.member"):
                return problem
        return None
    value = node[operator]["value"]
    scalar = isinstance(value, str | int | float)
    if operator in _COMPARISONS and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"Invalid filter at '{here}': {operator} compares with a number."
    if operator in _MEMBERSHIP and not (
        isinstance(value, list) and value and all(isinstance(item, str | int | float) for item in value)
    ):
        return f"Invalid filter at '{here}': {operator} takes a non-empty list of strings or numbers."
    if operator in _TEXT_MATCHES and not isinstance(value, str):
        return f"Invalid filter at '{here}': {operator} takes a string."
    if operator in _SCALAR_MATCHES and not scalar:
        return f"Invalid filter at '{here}': {operator} takes a string, number or boolean."
    return None


def parse_retrieve(raw_id: str, body: Any) -> RetrieveRequest:
    """Validate a Retrieve request as Bedrock does; `raw_id` is the path's knowledgeBaseId, percent-decoded."""
    body = _object(body)
    errors = _Violations()
    errors.length(raw_id, "knowledgeBaseId", 10, 2048)
    if not _ID.match(raw_id):
        errors.value(raw_id, "knowledgeBaseId", f"Member must satisfy regular expression pattern: {_ID_PATTERN}")
    token = body.get("nextToken")
    if token is not None:
        if not isinstance(token, str):
            raise ValidationException(_MALFORMED)
        errors.length(token, "nextToken", 1, 2048)
        if re.search(r"\s", token):
            errors.value(token, "nextToken", f"Member must satisfy regular expression pattern: {_NEXT_TOKEN_PATTERN}")
    search = _object(_object(body.get("retrievalConfiguration")).get("vectorSearchConfiguration"))
    where = "retrievalConfiguration.vectorSearchConfiguration"
    count = search.get("numberOfResults")
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValidationException(_MALFORMED)
        if count < 1:
            errors.value(count, f"{where}.numberOfResults", "Member must have value greater than or equal to 1")
        elif count > 100:
            errors.value(count, f"{where}.numberOfResults", "Member must have value less than or equal to 100")
    search_type = search.get("overrideSearchType")
    if search_type is not None and search_type not in SEARCH_TYPES:
        rule = f"Member must satisfy enum value set: [{', '.join(SEARCH_TYPES)}]"
        errors.value(search_type, f"{where}.overrideSearchType", rule)
    query_filter = search.get("filter")
    if query_filter is not None:
        _check_filter(query_filter, f"{where}.filter", errors)
    query = body.get("retrievalQuery")
    text = None
    if query is None:
        errors.null("retrievalQuery")
    else:
        # `text` is optional in the model only because image queries exist; a text knowledge base needs it.
        text = _object(query).get("text")
        if text is None:
            errors.null("retrievalQuery.text")
        elif not isinstance(text, str):
            raise ValidationException(_MALFORMED)
        else:
            errors.length(text, "retrievalQuery.text", 0, 20000)
    errors.check()
    if query_filter is not None and (problem := _operand_error(query_filter, f"{where}.filter")):
        raise ValidationException(problem)
    if token is not None:  # the emulator answers every Retrieve in one page, so it never issued a token
        raise ValidationException("The nextToken provided is invalid.")
    return RetrieveRequest(
        knowledge_base_id=raw_id[-10:],
        text=text or "",  # never None here: errors.check() raised
        number_of_results=count or 5,
        search_type=search_type or DEFAULT_SEARCH_TYPE,
        filter=query_filter,
        guardrail=body.get("guardrailConfiguration") is not None,
    )


async def retrieve(provider: KnowledgeProvider | None, request: RetrieveRequest) -> dict[str, Any]:
    """The Retrieve response body: the provider's results, at most numberOfResults of them."""
    results = None
    if provider is not None:
        results = await provider.retrieve(
            request.knowledge_base_id, request.text, request.number_of_results, request.search_type, request.filter
        )
    if results is None:
        raise ResourceNotFoundException(f"Knowledge base {request.knowledge_base_id} does not exist.")
    answer: dict[str, Any] = {"retrievalResults": results[: request.number_of_results]}
    if request.guardrail:  # the emulator has no guardrails: they never intervene
        answer["guardrailAction"] = "NONE"
    return answer
