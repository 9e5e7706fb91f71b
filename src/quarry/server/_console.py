"""The operator's console wired to one app's services: its session key (the data dir's secret bound to the admin key,
so a new admin key ends every session) and the services it reads."""

from __future__ import annotations

import hashlib
import hmac

from quarry.admin import Console, Sessions
from quarry.api import AppContext
from quarry.auth import KeyStore, server_secret

__all__ = ["open_console"]


def open_console(context: AppContext, keys: KeyStore, admin_key: str | None) -> Console:
    secret = server_secret(context.settings, "console-session", "console-session.key")  # shared by replicas
    session_key = hmac.new(secret, b"console:" + (admin_key or "").encode(), hashlib.sha256).digest()
    services = context.services
    return Console(
        authenticator=services.authenticator,
        keys=keys,
        database=context.database,
        usage=context.usage,
        budgets=services.budgets,
        catalog=services.catalog,
        region=context.backend.region,
        knowledge=context.knowledge,
        sessions=Sessions(session_key),
        has_admin_key=bool(admin_key),
    )
