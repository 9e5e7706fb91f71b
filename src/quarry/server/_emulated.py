"""The emulator's Retrieve, answered from Quarry's local knowledge bases — the glue that lets the managed-retriever
path (`quarry kb add-bedrock`) be tried and tested offline. It lives with the server, which wires the two together:
the emulator imports nothing of Quarry's, and `quarry.kb` knows nothing of the emulator. Imported only with the kb
extra."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from quarry.emulator import ValidationException, local_knowledge_base_id
from quarry.errors import InvalidRequest
from quarry.kb import KnowledgeBases, Query, retrieval_result

__all__ = ["EmulatedKnowledge"]


class EmulatedKnowledge:
    """A KnowledgeProvider for `EmulatorApp(knowledge=…)`. A local knowledge base NAME is reached by the id
    `local_knowledge_base_id(NAME)`, or by NAME itself when it is ten letters and digits."""

    def __init__(self, open_knowledge: Callable[[], Awaitable[KnowledgeBases]]) -> None:
        self._open = open_knowledge  # called on first use: the knowledge bases may need the emulator running
        self._knowledge: KnowledgeBases | None = None
        self._lock = asyncio.Lock()

    async def _bases(self) -> KnowledgeBases:
        async with self._lock:
            if self._knowledge is None:
                self._knowledge = await self._open()
            return self._knowledge

    async def retrieve(
        self, knowledge_base_id: str, text: str, number_of_results: int, search_type: str, filter: dict[str, Any] | None
    ) -> list[dict[str, Any]] | None:
        knowledge = await self._bases()
        names = [
            entry.name
            for entry in await knowledge.list()
            if entry.config.kind == "local" and knowledge_base_id in (entry.name, local_knowledge_base_id(entry.name))
        ]
        if not names:
            return None
        base = await knowledge.get(names[0])
        mode: Literal["hybrid", "vector"] = "hybrid" if search_type == "HYBRID" else "vector"
        try:
            hits = await base.retrieve(Query(text=text, top_k=number_of_results, mode=mode, filter=filter))
        except InvalidRequest as exc:
            raise ValidationException(exc.message) from None
        return [retrieval_result(hit, base.name) for hit in hits]

    async def aclose(self) -> None:
        if self._knowledge is not None:
            await self._knowledge.close()
