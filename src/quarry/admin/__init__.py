"""The operator's console at /console: keys, spend, traffic and models at a glance, for the admin key. A client of
Quarry's services (quarry.auth's keys, budgets and usage; the model catalog's cache; quarry.kb); it never calls
Bedrock. Server-rendered HTML with inline SVG plots and one small script (see docs/architecture.md)."""

from quarry.admin._console import CONSOLE_KEY, BreakerState, CatalogEntry, Console, ModelList, console_of
from quarry.admin._routes import console_routes
from quarry.admin._session import Sessions

__all__ = [
    "CONSOLE_KEY",
    "BreakerState",
    "CatalogEntry",
    "Console",
    "ModelList",
    "Sessions",
    "console_of",
    "console_routes",
]
