"""Whom a knowledge base belongs to or is shared with, as strings with a kind prefix: `key:ID` (a team key),
`user:ID` (a toolbox user's derived credential), `*` (every caller). Teams will add `team:ID`; the admin owns
what no one else does and is stored as None (shown as `admin`)."""

from __future__ import annotations

from quarry.auth._authenticator import OPEN_ACCESS_KEY_ID, Principal
from quarry.errors import InvalidRequest

__all__ = ["ADMIN", "EVERYONE", "grantees_of", "is_admin", "owner_of", "parse_grantee", "parse_owner", "shown_owner"]

ADMIN = "admin"
EVERYONE = "*"
_KINDS = ("key", "user")
_KEY_ID = "key_"  # team key ids (`key_1a2b…`) are accepted bare, as the admin API lists them


def is_admin(principal: Principal) -> bool:
    """The bootstrap key, or anyone on a server with no key at all (loopback only): they see every knowledge base."""
    return principal.admin or principal.key_id == OPEN_ACCESS_KEY_ID


def owner_of(principal: Principal) -> str | None:
    """What is recorded as the owner of what `principal` makes: its user, its key, or None for the admin."""
    if is_admin(principal):
        return None
    if principal.user is not None and principal.key is None:  # a toolbox user's credential, bound to that user
        return f"user:{principal.user}"
    return f"key:{principal.key_id}"


def grantees_of(principal: Principal) -> frozenset[str]:
    """The grantee strings that name `principal` (empty for the admin, who needs none)."""
    owner = owner_of(principal)
    return frozenset() if owner is None else frozenset((owner, EVERYONE))


def _parse(text: str, param: str, *, everyone: bool) -> str:
    value = text.strip()
    if everyone and value == EVERYONE:
        return value
    if value.startswith(_KEY_ID):
        value = f"key:{value}"
    kind, _, ident = value.partition(":")
    if kind not in _KINDS or not ident or len(value) > 256 or any(c.isspace() for c in value):
        forms = "`key:ID` (or a bare key id), `user:ID`" + (" or `*`" if everyone else " or `admin`")
        raise InvalidRequest(f"{text!r} names no one: use {forms}.", param=param)
    return value


def parse_grantee(text: str, *, param: str = "shared_with") -> str:
    """A grantee as given (`key:ID`, a bare key id, `user:ID`, `*`) → its canonical string; InvalidRequest."""
    return _parse(text, param, everyone=True)


def parse_owner(text: str, *, param: str = "owner") -> str | None:
    """An owner as given (`admin`, `key:ID`, a bare key id, `user:ID`) → what is stored (None: the admin)."""
    return None if text.strip() == ADMIN else _parse(text, param, everyone=False)


def shown_owner(owner: str | None) -> str:
    return ADMIN if owner is None else owner
