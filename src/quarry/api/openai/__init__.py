"""The OpenAI dialect: `/v1/models`, `/v1/chat/completions`, `/v1/embeddings` over Converse and InvokeModel."""

from quarry.api._errors import OpenAIError, error_body, error_response
from quarry.api.openai._routes import router

__all__ = ["OpenAIError", "error_body", "error_response", "router"]
