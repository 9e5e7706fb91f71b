"""The OpenAI Responses API: `/v1/responses` (whole and streamed), stored responses and their input items, input
token counts, over Converse."""

from quarry.api.responses._background import fail_unfinished
from quarry.api.responses._routes import router

__all__ = ["fail_unfinished", "router"]
