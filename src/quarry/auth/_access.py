"""Who may use what. A key's model patterns (globs; none = everything) decide the models it may call and the
knowledge bases it may use: knowledge base NAME is the model `kb:NAME`. Every route asks here, so the HTTP API,
`kb:` chat models and `/v1/models` give the same answer for the same key."""

from __future__ import annotations

from quarry.auth._authenticator import Principal
from quarry.errors import KnowledgeBaseNotAllowed

__all__ = ["KB_PREFIX", "check_knowledge_base", "knowledge_base_model", "may_use_knowledge_base", "may_use_model"]

KB_PREFIX = "kb:"


def knowledge_base_model(name: str) -> str:
    """The model name a knowledge base answers to (and that scopes grant): `kb:NAME`."""
    return f"{KB_PREFIX}{name}"


def may_use_model(principal: Principal, *names: str) -> bool:
    """Whether the caller may call a model known by any of these names (as requested, Bedrock id, alias target)."""
    return principal.key is None or principal.key.allows(*names)


def may_use_knowledge_base(principal: Principal, name: str) -> bool:
    """Whether the caller may use knowledge base `name`: its key's patterns allow `kb:NAME`. Only that name
    counts, never `kb:NAME:MODEL`: the model that answers is a model like any other, checked on its own."""
    return may_use_model(principal, knowledge_base_model(name))


def check_knowledge_base(principal: Principal, name: str, *, param: str | None = None) -> None:
    """KnowledgeBaseNotAllowed unless the caller may use knowledge base `name`."""
    if not may_use_knowledge_base(principal, name):
        raise KnowledgeBaseNotAllowed(name, param=param)
