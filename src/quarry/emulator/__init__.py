"""`quarry emulator`: an offline Amazon Bedrock that speaks AWS's wire protocol.

It imports nothing from the gateway; the gateway reaches it over HTTP like any AWS client. Knowledge bases for
Retrieve are injected as a `KnowledgeProvider`, which may raise the emulator's `BedrockError`s
(`ValidationException`, …) to answer with them.
"""

from quarry.emulator._app import EmulatorApp, RequestCounts
from quarry.emulator._catalog import Catalog
from quarry.emulator._config import EmulatorConfig, EmulatorOptions
from quarry.emulator._errors import BedrockError, ValidationException
from quarry.emulator._retrieve import KnowledgeProvider, local_knowledge_base_id

__all__ = [
    "BedrockError",
    "Catalog",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorOptions",
    "KnowledgeProvider",
    "RequestCounts",
    "ValidationException",
    "local_knowledge_base_id",
]
