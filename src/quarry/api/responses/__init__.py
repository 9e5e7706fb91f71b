"""The OpenAI Responses API: `/v1/responses` (whole and streamed), stored responses and their input items, input
token counts, over Converse; and OpenAI's Conversations API (`/v1/conversations`)."""

from quarry.api.responses._background import fail_unfinished
from quarry.api.responses._conversations import conversation_router
from quarry.api.responses._routes import router

__all__ = ["conversation_router", "fail_unfinished", "router"]
