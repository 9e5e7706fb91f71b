"""The Formatter's parsing and schema checks, and sign-in's password hashes and trusted header."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.requests import Request

from quarry.ui._auth import hash_password, password_checker, trusted_header_identity, verify_password
from quarry.ui._formatting import FormatProblem, NoStructure, check_document, load_schema

SCHEMA = '{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}'


def test_json_is_normalised_and_fences_tolerated() -> None:
    assert check_document('```json\n{"a":1}\n```', "JSON", None) == '{\n  "a": 1\n}'


def test_yaml_is_parsed_and_dumped() -> None:
    assert check_document("name: Ada\nlangs: [en, fr]", "YAML", None) == "name: Ada\nlangs:\n- en\n- fr\n"


@pytest.mark.parametrize(
    ("text", "target", "schema", "problem"),
    [
        ("{not json", "JSON", None, "not valid JSON"),
        ("just words", "YAML", None, "the answer is a bare string, not a YAML mapping or list"),
        ("null", "YAML", None, r"the answer is nothing \(null\)"),
        ('"just words"', "JSON", None, "the answer is a bare string, not a JSON object or array"),
        ("42", "JSON", None, "a bare number"),
        ("null", "JSON", None, r"nothing \(null\)"),
        ('{"name": 3}', "JSON", SCHEMA, "does not satisfy the schema at name"),
        ("{}", "JSON", SCHEMA, "'name' is a required property"),
    ],
)
def test_problems_are_explained(text: str, target: str, schema: str | None, problem: str) -> None:
    with pytest.raises(FormatProblem, match=problem):
        check_document(text, target, load_schema(schema or ""))


@pytest.mark.parametrize(("text", "target"), [("hello", "YAML"), ('"hello"', "JSON"), ("null", "JSON")])
def test_a_bare_value_is_no_structure(text: str, target: str) -> None:
    with pytest.raises(NoStructure):
        check_document(text, target, None)
    # Unless a schema asks for one.
    assert check_document(text, target, {"type": ["string", "null"]}) in ("hello\n...\n", '"hello"', "null")


def test_invalid_schemas_are_refused() -> None:
    assert load_schema("  ") is None
    with pytest.raises(FormatProblem, match="JSON Schema is invalid"):
        load_schema('{"type": 12}')


def test_password_hashes() -> None:
    encoded = hash_password("s3cret", iterations=1000)
    assert encoded.startswith("pbkdf2_sha256$1000$")
    assert verify_password("s3cret", encoded)
    assert not verify_password("S3cret", encoded)
    assert not verify_password("s3cret", "md5$nonsense")
    assert hash_password("s3cret", iterations=1000) != encoded  # salted
    check = password_checker({"ada": encoded})

    async def answers() -> list[bool]:
        return [await check("ada", "s3cret"), await check("ada", "wrong"), await check("bob", "s3cret")]

    # In a thread of its own: the browser tests' Playwright keeps an event loop running on this one.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, answers()).result() == [True, False, False]


def request_from(peer: str, headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/ui/", "headers": raw, "client": (peer, 5000)})


def test_trusted_header_is_believed_only_from_the_proxies() -> None:
    identity = trusted_header_identity("x-amzn-oidc-identity", ["10.0.0.0/8"])
    assert identity(request_from("10.1.2.3", {"X-Amzn-Oidc-Identity": "ada@example.com"})) == "ada@example.com"
    assert identity(request_from("203.0.113.9", {"X-Amzn-Oidc-Identity": "ada@example.com"})) is None
    assert identity(request_from("10.1.2.3", {})) is None
