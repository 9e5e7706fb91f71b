"""The one rule for who may use a knowledge base (and a model), as a table of keys' patterns."""

from __future__ import annotations

import pytest

from quarry.auth import ApiKey, Limits, Principal, check_knowledge_base, may_use_knowledge_base, may_use_model
from quarry.errors import KnowledgeBaseNotAllowed, PermissionDenied


def _principal(*patterns: str) -> Principal:
    key = ApiKey(id="key_1", name="team", prefix="qk-abc", models=patterns, limits=Limits(), created_at=0.0)
    return Principal(key_id=key.id, name=key.name, key=key)


ADMIN = Principal(key_id="bootstrap", name="bootstrap", admin=True)
LOCAL = Principal(key_id="local", name="local")


@pytest.mark.parametrize(
    ("principal", "name", "allowed"),
    [
        (ADMIN, "handbook", True),  # the bootstrap key may use everything
        (LOCAL, "handbook", True),  # and so may everyone when the server has no key at all
        (_principal(), "handbook", True),  # a key without patterns may use every model and knowledge base
        (_principal("kb:handbook"), "handbook", True),
        (_principal("kb:handbook"), "handbook2", False),
        (_principal("kb:hand*"), "handbook", True),
        (_principal("kb:*"), "anything", True),
        (_principal("*"), "handbook", True),  # `*` is every model, `kb:` ones included
        (_principal("anthropic.*"), "handbook", False),
        (_principal("kb:other", "anthropic.*"), "handbook", False),
        (_principal("handbook"), "handbook", False),  # the knowledge base's name alone is not its model name
        # Only `kb:NAME` grants it: the model named in `kb:NAME:MODEL` is checked as a model of its own.
        (_principal("kb:handbook:*"), "handbook", False),
    ],
)
def test_who_may_use_a_knowledge_base(principal: Principal, name: str, allowed: bool) -> None:
    assert may_use_knowledge_base(principal, name) is allowed
    if allowed:
        check_knowledge_base(principal, name)
        return
    with pytest.raises(KnowledgeBaseNotAllowed) as caught:
        check_knowledge_base(principal, name, param="model")
    error = caught.value
    assert isinstance(error, PermissionDenied)
    assert (error.status, error.code, error.param) == (403, "knowledge_base_not_allowed", "model")
    assert error.message == f"This API key may not use the knowledge base `{name}`."


@pytest.mark.parametrize(
    ("patterns", "names", "allowed"),
    [
        ((), ("anthropic.claude-3-haiku-20240307-v1:0",), True),
        (("anthropic.*",), ("claude-3-haiku", "anthropic.claude-3-haiku-20240307-v1:0"), True),  # any name counts
        (("anthropic.*",), ("us.anthropic.claude-sonnet-4-5-20250929-v1:0",), False),
        (("fast",), ("fast", "anthropic.claude-3-haiku-20240307-v1:0"), True),  # an alias by its own name
        (("amazon.*",), ("anthropic.claude-3-haiku-20240307-v1:0", ""), False),
    ],
)
def test_who_may_use_a_model(patterns: tuple[str, ...], names: tuple[str, ...], allowed: bool) -> None:
    assert may_use_model(_principal(*patterns), *names) is allowed
    assert may_use_model(ADMIN, *names)
