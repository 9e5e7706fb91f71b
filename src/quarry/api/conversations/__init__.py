"""The toolbox's own endpoints: conversations (`/v1/toolbox/conversations`; `/v1/conversations` is OpenAI's
Conversations API, in quarry.api.responses) and per-user settings (`/v1/user/settings`)."""

from quarry.api.conversations._routes import USER_HEADER, router

__all__ = ["USER_HEADER", "router"]
