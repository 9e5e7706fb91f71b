"""The gateway's ASGI app (`create_app`), its backend wiring, and the host guard `quarry ui` shares."""

from quarry.server._app import create_app
from quarry.server._backend import Backend, open_backend
from quarry.server._hosts import HostGuard, HostPolicy

__all__ = ["Backend", "HostGuard", "HostPolicy", "create_app", "open_backend"]
