"""The server key: the one secret Quarry encrypts what it stores under (today the secret keys of issued AWS
credentials), a separate key derived from it for each use.

It is `server_key` in the settings (`QUARRY_SERVER_KEY`) when set — which replicas sharing a PostgreSQL database must
do, each with the same value, or one cannot read what another stored — else a random one made on first use in the
data dir (`server.key`), enough for one machine, where the server and the CLI share the data dir."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from quarry.auth._data_dir_secret import data_dir_secret
from quarry.settings import Settings

__all__ = ["SERVER_KEY_FILE", "server_key", "server_secret"]

SERVER_KEY_FILE = "server.key"
_CONTEXT = b"quarry-server-key\x00"  # keys derived for one use are never those of another


def server_key(settings: Settings, purpose: str) -> bytes:
    """32 bytes for `purpose` (e.g. "aws-credentials"), derived from the server key. Raises OSError when the data
    dir's key can be neither read nor made."""
    if settings.server_key is not None:
        root = hashlib.sha256(settings.server_key.get_secret_value().encode()).digest()
    else:
        root = data_dir_secret(Path(settings.data_dir), SERVER_KEY_FILE)
    return hmac.new(root, _CONTEXT + purpose.encode(), hashlib.sha256).digest()


def server_secret(settings: Settings, purpose: str, file: str) -> bytes:
    """A secret that replicas must share (the Responses API's reasoning key, the console's session key): derived
    from `server_key` when it is set, else the data dir's own `file`, as one machine has always kept it."""
    if settings.server_key is not None:
        return server_key(settings, purpose)
    return data_dir_secret(Path(settings.data_dir), file)
