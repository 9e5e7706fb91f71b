"""The Anthropic-compatible API (`/v1/messages`), for the Anthropic SDKs and Claude Code."""

from quarry.api.anthropic._errors import error_response
from quarry.api.anthropic._routes import router

__all__ = ["error_response", "router"]
