"""The one rule for knowledge bases, as tables: who owns what a caller makes, who may read and change a knowledge
base (key patterns and ownership together), what a refusal is, and how owners and grantees are written."""

from __future__ import annotations

import pytest

from quarry.auth import (
    ApiKey,
    Limits,
    Principal,
    check_change,
    check_read,
    may_change,
    may_read,
    owner_of,
    parse_grantee,
    parse_owner,
    shown_owner,
)
from quarry.errors import InvalidRequest, KnowledgeBaseNotAllowed, KnowledgeBaseNotFound, KnowledgeBaseReadOnly
from quarry.kb import Grant, Ownership, Registered
from quarry.kb import KnowledgeBaseConfig as Config


def _key(key_id: str, *patterns: str) -> Principal:
    key = ApiKey(id=key_id, name=key_id, prefix="qk-abc", models=patterns, limits=Limits(), created_at=0.0)
    return Principal(key_id=key.id, name=key.name, key=key)


ADMIN = Principal(key_id="bootstrap", name="bootstrap", admin=True)
LOCAL = Principal(key_id="local", name="local")  # a server with no key at all
A, B, C = _key("key_a"), _key("key_b"), _key("key_c")
ADA = Principal(key_id="toolbox", name="toolbox u:ada", user="u:ada")
SCOPED_B = _key("key_b", "anthropic.*")


def _kb(owner: str | None, *grantees: str, name: str = "notes") -> Registered:
    return Registered(Config(name=name), Ownership(owner, tuple(Grant(grantee) for grantee in grantees)))


@pytest.mark.parametrize(
    ("principal", "owner"),
    [(ADMIN, None), (LOCAL, None), (A, "key:key_a"), (ADA, "user:u:ada")],
)
def test_what_a_caller_makes_is_recorded_as_its_own(principal: Principal, owner: str | None) -> None:
    assert owner_of(principal) == owner


@pytest.mark.parametrize(
    ("principal", "kb", "read", "change"),
    [
        (ADMIN, _kb("key:key_a"), True, True),  # the admin sees and changes all
        (LOCAL, _kb("key:key_a"), True, True),
        (A, _kb("key:key_a"), True, True),  # the owner
        (B, _kb("key:key_a"), False, False),  # anyone else: not even that it exists
        (A, _kb(None), False, False),  # the admin's (every knowledge base made before owners)
        (B, _kb("key:key_a", "key:key_b"), True, False),  # shared to read
        (C, _kb("key:key_a", "key:key_b"), False, False),
        (C, _kb("key:key_a", "*"), True, False),  # everyone
        (ADA, _kb("key:key_a", "*"), True, False),
        (ADA, _kb("user:u:ada"), True, True),  # a toolbox user owns what it made
        (ADA, _kb("user:u:bob", "user:u:ada"), True, False),
        (A, _kb("user:u:ada"), False, False),
        (ADA, _kb("key:toolbox"), False, False),  # a user is not the key id toolbox principals share
        (SCOPED_B, _kb("key:key_b"), False, False),  # patterns still decide: `kb:notes` is not in anthropic.*
        (SCOPED_B, _kb("key:key_a", "*"), False, False),
        (_key("key_b", "kb:notes"), _kb("key:key_a", "key:key_b"), True, False),
    ],
)
def test_who_may_read_and_change_a_knowledge_base(
    principal: Principal, kb: Registered, read: bool, change: bool
) -> None:
    assert may_read(principal, kb) is read
    assert may_change(principal, kb) is change


def test_refusals_say_nothing_of_a_knowledge_base_the_caller_may_not_see() -> None:
    with pytest.raises(KnowledgeBaseNotFound) as hidden:
        check_read(B, _kb("key:key_a"))
    assert (hidden.value.status, hidden.value.message) == (404, "There is no knowledge base named 'notes'.")
    with pytest.raises(KnowledgeBaseNotFound):
        check_change(B, _kb("key:key_a"))
    with pytest.raises(KnowledgeBaseReadOnly) as read_only:  # a reader knows it exists: told why
        check_change(B, _kb("key:key_a", "key:key_b"))
    assert (read_only.value.status, read_only.value.code) == (403, "knowledge_base_read_only")
    with pytest.raises(KnowledgeBaseNotAllowed) as scoped:  # outside the key's patterns: 403, as before owners
        check_read(SCOPED_B, _kb("key:key_b"), param="model")
    assert (scoped.value.status, scoped.value.param) == (403, "model")
    check_read(B, _kb("key:key_a", "*"))
    check_change(A, _kb("key:key_a"))


@pytest.mark.parametrize(
    ("given", "grantee"),
    [
        ("*", "*"),
        ("key:key_1a2b", "key:key_1a2b"),
        ("key_1a2b", "key:key_1a2b"),  # bare, as the admin API lists key ids
        (" key_1a2b ", "key:key_1a2b"),
        ("user:u:ada", "user:u:ada"),
    ],
)
def test_grantees_are_written_with_their_kind(given: str, grantee: str) -> None:
    assert parse_grantee(given) == grantee


@pytest.mark.parametrize("given", ["", "ada", "team a", "key:", "user:", "group:x", "admin", "key:a b", "**"])
def test_a_grantee_that_names_no_one_is_refused(given: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_grantee(given)
    assert caught.value.param == "shared_with"


def test_owners_are_grantees_or_the_admin() -> None:
    assert parse_owner("admin") is None
    assert parse_owner("key_1a2b") == "key:key_1a2b"
    assert parse_owner("user:u:ada") == "user:u:ada"
    with pytest.raises(InvalidRequest):
        parse_owner("*")  # everyone owns nothing
    assert (shown_owner(None), shown_owner("key:key_a")) == ("admin", "key:key_a")
