"""The toolbox's own endpoints: conversations (`/v1/conversations`) and per-user settings (`/v1/user/settings`)."""

from quarry.api.conversations._routes import USER_HEADER, router

__all__ = ["USER_HEADER", "router"]
