"""Per-user credentials for the toolbox's signed-in users: an HMAC of the user's id under a server-side secret.

The toolbox derives one for each signed-in user and calls the API with it; the authenticator accepts it as a
non-admin principal bound to that user (its conversations only, never the admin API). It never reaches a browser,
and it needs no storage: the secret and the user's id are all there is to it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from pathlib import Path

from quarry.auth._data_dir_secret import data_dir_secret
from quarry.settings import Settings

__all__ = ["SECRET_FILE", "ToolboxCredentials", "toolbox_credentials"]

log = logging.getLogger("quarry.auth")

SECRET_FILE = "toolbox-credential.key"  # noqa: S105  # a file name, not a secret
_PREFIX = "qtu-"  # "quarry toolbox user": tells these apart from team keys (`qk-`) before any lookup
_CONTEXT = b"quarry-toolbox-user\x00"  # binds the MAC to this use, should the secret ever serve another


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ToolboxCredentials:
    """Issues and checks the credentials of toolbox users; one secret per deployment."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the toolbox credential secret needs at least 16 bytes")
        self._secret = secret

    def _mac(self, user: str) -> bytes:
        return hmac.new(self._secret, _CONTEXT + user.encode(), hashlib.sha256).digest()

    def issue(self, user: str) -> str:
        """The credential of toolbox user `user` (an `X-Quarry-User` value such as `u:ada`)."""
        return f"{_PREFIX}{_b64(user.encode())}.{_b64(self._mac(user))}"

    @staticmethod
    def looks_like(token: str) -> bool:
        return token.startswith(_PREFIX)

    def user_of(self, token: str) -> str | None:
        """The user a credential was issued to, or None when it is not one of ours."""
        encoded, _, mac = token.removeprefix(_PREFIX).partition(".")
        try:
            user = _unb64(encoded).decode()
            expected = _unb64(mac)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return user if user and hmac.compare_digest(expected, self._mac(user)) else None


def toolbox_credentials(settings: Settings) -> ToolboxCredentials | None:
    """The deployment's toolbox credentials (`ui.credential_secret`, else the data dir's secret); None, with a
    warning, when neither can be had (signed-in users then type a key, as anonymous ones do)."""
    if settings.ui.credential_secret is not None:
        configured = settings.ui.credential_secret.get_secret_value().encode()
        return ToolboxCredentials(hashlib.sha256(configured).digest())
    try:
        return ToolboxCredentials(data_dir_secret(Path(settings.data_dir), SECRET_FILE))
    except (OSError, ValueError) as exc:
        log.warning(
            "toolbox sign-in credentials are off: cannot keep %s in %s (%s)", SECRET_FILE, settings.data_dir, exc
        )
        return None
