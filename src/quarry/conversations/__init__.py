"""Conversations and per-user settings of the toolbox, kept in Quarry's database."""

from quarry.conversations._models import (
    Conversation,
    ConversationPatch,
    ConversationSummary,
    Message,
    Owner,
    Parameters,
    UserSettings,
)
from quarry.conversations._store import ConversationStore

__all__ = [
    "Conversation",
    "ConversationPatch",
    "ConversationStore",
    "ConversationSummary",
    "Message",
    "Owner",
    "Parameters",
    "UserSettings",
]
