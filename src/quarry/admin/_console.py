"""The console's view of the running gateway: the services it is a client of (keys, budgets, usage, the model
catalog, knowledge bases) and what it keeps itself (live traffic, the request log, sessions, the sign-in throttle).
Built once by the server's lifespan and handed to requests as lifespan state, as the API's AppContext is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request

from quarry.admin._recent import RecentRequests
from quarry.admin._session import Sessions
from quarry.admin._traffic import Traffic
from quarry.auth import Authenticator, Budgeter, KeyStore, UsageRecorder
from quarry.exchange import Exchange
from quarry.store import Database
from quarry.throttle import Throttle

if TYPE_CHECKING:
    from quarry.kb import KnowledgeBases  # the kb extra: only typed here

__all__ = ["CONSOLE_KEY", "BreakerState", "CatalogEntry", "Console", "ModelList", "console_of"]

CONSOLE_KEY = "quarry.console"  # its entry in the lifespan state

# The circuit-breaker reader: (model id, region) → the circuit's state as the Models page shows it ("closed",
# "open (retried in 12 s)", "half-open"), or None when no breaker watches the model. The server fills it from the
# runtime's breakers (quarry.server's breaker_state); None (tests, a console without a runtime) shows "—".
BreakerState = Callable[[str, str], str | None]


class CatalogEntry(Protocol):
    """What the Models page reads of a catalog entry (quarry.bedrock's ModelEntry has it)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def owned_by(self) -> str: ...
    @property
    def target(self) -> str | None: ...


class ModelList(Protocol):
    """The model catalog, read from its cache (quarry.bedrock's ModelCatalog): the console never calls Bedrock."""

    async def entries(self) -> Sequence[CatalogEntry]: ...


@dataclass(slots=True)
class Console:
    authenticator: Authenticator
    keys: KeyStore
    database: Database
    usage: UsageRecorder
    budgets: Budgeter | None
    catalog: ModelList
    region: str
    knowledge: KnowledgeBases | None
    sessions: Sessions
    has_admin_key: bool  # False: no QUARRY_API_KEY, so nobody can sign in
    traffic: Traffic = field(default_factory=Traffic)
    recent: RecentRequests = field(default_factory=RecentRequests)
    throttle: Throttle = field(default_factory=lambda: Throttle(lockout_s=30.0))
    sign_in_failures: int = 5  # per client address before a lockout
    breaker_state: BreakerState | None = None

    def observe(self, exchange: Exchange) -> None:
        """The Exchange listener that feeds the live plots and the request log."""
        self.traffic.observe(exchange)
        self.recent.observe(exchange)


def console_of(request: Request) -> Console:
    """The app's console; a RuntimeError when the app runs without its lifespan."""
    console = request.scope.get("state", {}).get(CONSOLE_KEY)
    if not isinstance(console, Console):
        raise RuntimeError("Quarry's app runs without its lifespan: serve it with lifespan on")
    return console
