"""Knowledge bases over HTTP: CRUD, uploads, Bedrock-shaped retrieval and answers with citations."""

from quarry.api.knowledge._routes import router

__all__ = ["router"]
