"""The operator's console wired to one app's services: its session key (the data dir's secret bound to the admin key,
so a new admin key ends every session), the services it reads, and the runtime's circuit breakers (the console
imports nothing of quarry.bedrock, so the server hands it a reader)."""

from __future__ import annotations

import hashlib
import hmac

from quarry.admin import BreakerState, Console, Sessions
from quarry.api import AppContext
from quarry.auth import KeyStore, server_secret
from quarry.bedrock import Breakers

__all__ = ["breaker_state", "open_console"]


def breaker_state(breakers: Breakers) -> BreakerState:
    """(model id, region) → the circuit's state as the operator reads it, from the breakers' views (as GET
    /admin/circuits reads them). Every model the runtime calls is watched: a model with no circuit yet has never
    failed, so it is closed."""

    def state(model: str, region: str) -> str:
        view = next((view for view in breakers.views() if view.model == model and view.region == region), None)
        if view is None:
            return "closed"
        if view.state == "open":
            return f"open (retried in {max(1, round(view.retry_in_s or 0))} s)"
        if view.state == "half_open":
            return "half-open"
        return f"closed ({view.failures} failed)" if view.failures else "closed"

    return state


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
        breaker_state=breaker_state(services.runtime.breakers),
    )
