"""The Anthropic-compatible API (`/v1/messages`), for the Anthropic SDKs and Claude Code."""

from quarry.api.anthropic._errors import AnthropicError, error_response
from quarry.api.anthropic._routes import router

__all__ = ["AnthropicError", "error_response", "router"]
