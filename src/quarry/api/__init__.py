"""HTTP dialects: each translates its own API to and from Bedrock's Converse shape. The package itself exports what
the server wires together and every dialect shares: the app's context, the admin and models routes."""

from quarry.api._admin import router as admin_router
from quarry.api._admin_teams import teams_router as admin_teams_router
from quarry.api._body import request_model_of
from quarry.api._context import CONTEXT_KEY, AppContext, context_of, services_of
from quarry.api._models import router as models_router
from quarry.api._models import wants_anthropic
from quarry.api._published import Answer, answer_of
from quarry.api._services import Services

__all__ = [
    "CONTEXT_KEY",
    "Answer",
    "AppContext",
    "Services",
    "admin_router",
    "admin_teams_router",
    "answer_of",
    "context_of",
    "models_router",
    "request_model_of",
    "services_of",
    "wants_anthropic",
]
