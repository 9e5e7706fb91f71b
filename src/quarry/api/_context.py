"""The running gateway's state as one typed object: built once by the app's lifespan, handed to every request as
Starlette's lifespan state (a shallow copy of it per request: https://www.starlette.io/lifespan), and reached
only through `context_of` — never through untyped `app.state` attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from quarry.api._background import BackgroundTasks
from quarry.api._services import Services
from quarry.auth import Principal, UsageRecorder, check_knowledge_base, check_read
from quarry.bedrock import Backend
from quarry.conversations import ConversationStore
from quarry.errors import InvalidRequest, KnowledgeBaseNotFound
from quarry.observability import Metrics
from quarry.settings import Settings
from quarry.store import Database

if TYPE_CHECKING:
    from quarry.kb import KnowledgeBase, KnowledgeBases  # the kb extra: imported at run time only where it is used

__all__ = ["CONTEXT_KEY", "AppContext", "context_of", "services_of"]

CONTEXT_KEY = "quarry"  # the lifespan state's one entry


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    backend: Backend
    services: Services  # what the dialects use on every call: authentication, admission, the runtime, streams
    database: Database
    usage: UsageRecorder
    conversations: ConversationStore
    knowledge: KnowledgeBases | None  # None without the kb extra
    metrics: Metrics
    ui_mounted: bool  # the toolbox is at /ui
    background: BackgroundTasks = field(default_factory=BackgroundTasks)  # work outliving its request

    def knowledge_bases(self) -> KnowledgeBases:
        """The knowledge bases; InvalidRequest naming the extra to install when they are not."""
        if self.knowledge is None:
            raise InvalidRequest("Knowledge bases need the kb extra: pip install 'quarry[kb]'.")
        return self.knowledge

    async def readable_knowledge_base(self, principal: Principal, name: str, *, param: str) -> KnowledgeBase:
        """The knowledge base `name`, opened for a caller that may read it (`kb:NAME` chat models, the Responses
        API's file_search): one it may not see is the same 404 as one that does not exist, naming `param`."""
        check_knowledge_base(principal, name, param=param)  # before the lookup: a forbidden name is not confirmed
        if self.knowledge is None:
            raise InvalidRequest("Knowledge bases need the kb extra: pip install 'quarry[kb]'.", param=param)
        try:
            entry = await self.knowledge.entry(name)
            check_read(principal, entry, param=param)
        except KnowledgeBaseNotFound:
            raise KnowledgeBaseNotFound(name, param=param) from None
        return await self.knowledge.open(entry)


def context_of(request: Request) -> AppContext:
    """The app's context; a RuntimeError when the app runs without its lifespan (a server with `lifespan="off"`)."""
    context = request.scope.get("state", {}).get(CONTEXT_KEY)
    if not isinstance(context, AppContext):
        raise RuntimeError("Quarry's app runs without its lifespan: serve it with lifespan on")
    return context


def services_of(request: Request) -> Services:
    """`context_of(request).services`: what the dialects' routes use on every call."""
    return context_of(request).services
