"""Who may use what: the one rule every route asks, so the HTTP API, `kb:` chat models, `/v1/models` and the toolbox
(a client of the API with its user's own credential) give the same answer for the same caller.

A model: the key's patterns (globs; none = everything). A knowledge base NAME needs both of:
- its model `kb:NAME` in the key's patterns (refused with 403 before any lookup: nothing is said of the name);
- ownership: the admin sees every knowledge base; anyone else those it owns or that are shared with it. One it may
  not see is answered as one that does not exist (404), so names do not leak. Changing one (documents, sharing,
  deleting it) is for its owner and the admin; a grantee only reads (searches, answers, `kb:` models, documents).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from quarry.auth._authenticator import Principal
from quarry.auth._grantees import grantees_of, is_admin, owner_of
from quarry.errors import KnowledgeBaseNotAllowed, KnowledgeBaseNotFound, KnowledgeBaseReadOnly

__all__ = [
    "KB_PREFIX",
    "Owned",
    "check_change",
    "check_knowledge_base",
    "check_read",
    "knowledge_base_model",
    "may_change",
    "may_read",
    "may_use_knowledge_base",
    "may_use_model",
]

KB_PREFIX = "kb:"


class Shared(Protocol):
    """One grant of a knowledge base (`quarry.kb.Grant`)."""

    @property
    def grantee(self) -> str: ...

    @property
    def access(self) -> str: ...


class Owned(Protocol):
    """What the rule reads of a knowledge base (`quarry.kb.Registered`, `quarry.kb.KnowledgeBase`)."""

    @property
    def name(self) -> str: ...

    @property
    def owner(self) -> str | None: ...

    @property
    def shared_with(self) -> Sequence[Shared]: ...


def knowledge_base_model(name: str) -> str:
    """The model name a knowledge base answers to (and that scopes grant): `kb:NAME`."""
    return f"{KB_PREFIX}{name}"


def may_use_model(principal: Principal, *names: str) -> bool:
    """Whether the caller may call a model known by any of these names (as requested, Bedrock id, alias target)."""
    return principal.key is None or principal.key.allows(*names)


def may_use_knowledge_base(principal: Principal, name: str) -> bool:
    """Whether the caller's key patterns allow `kb:NAME`. Only that name counts, never `kb:NAME:MODEL`: the model
    that answers is a model like any other, checked on its own. Ownership is `may_read`'s to add."""
    return may_use_model(principal, knowledge_base_model(name))


def check_knowledge_base(principal: Principal, name: str, *, param: str | None = None) -> None:
    """KnowledgeBaseNotAllowed unless the caller's key patterns allow `kb:NAME`: asked before the lookup."""
    if not may_use_knowledge_base(principal, name):
        raise KnowledgeBaseNotAllowed(name, param=param)


def may_read(principal: Principal, kb: Owned) -> bool:
    """Whether the caller may see and search `kb`: its patterns allow it, and it owns it, is the admin, or `kb` is
    shared with it (every access includes reading)."""
    if not may_use_knowledge_base(principal, kb.name):
        return False
    if is_admin(principal):
        return True
    mine = grantees_of(principal)
    return kb.owner in mine or any(grant.grantee in mine for grant in kb.shared_with)


def may_change(principal: Principal, kb: Owned) -> bool:
    """Whether the caller may change `kb` (documents, sharing, deleting it): its owner or the admin."""
    return may_use_knowledge_base(principal, kb.name) and (is_admin(principal) or kb.owner == owner_of(principal))


def check_read(principal: Principal, kb: Owned, *, param: str | None = None) -> None:
    """KnowledgeBaseNotAllowed (patterns), or KnowledgeBaseNotFound — the answer for a name that does not exist —
    unless the caller may read `kb`."""
    check_knowledge_base(principal, kb.name, param=param)
    if not may_read(principal, kb):
        raise KnowledgeBaseNotFound(kb.name)


def check_change(principal: Principal, kb: Owned) -> None:
    """As `check_read`, then KnowledgeBaseReadOnly for a grantee that may read `kb` but not change it."""
    check_read(principal, kb)
    if not may_change(principal, kb):
        raise KnowledgeBaseReadOnly(kb.name)
