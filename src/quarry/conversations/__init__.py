"""Conversations and per-user settings of the toolbox, kept in an embedded SQLite file under the data dir."""

from quarry.conversations._models import (
    Conversation,
    ConversationPatch,
    ConversationSummary,
    Message,
    Owner,
    Parameters,
    UserSettings,
)
from quarry.conversations._sqlite import SQLiteConversationStore

__all__ = [
    "Conversation",
    "ConversationPatch",
    "ConversationSummary",
    "Message",
    "Owner",
    "Parameters",
    "SQLiteConversationStore",
    "UserSettings",
]
