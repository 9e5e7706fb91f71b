"""The gateway's ASGI app (`create_app`), its backend wiring, and the host guard `quarry ui` shares."""

from quarry.server._app import create_app
from quarry.server._backend import Backend, emulated_knowledge, emulator_runtime, open_backend
from quarry.server._connections import ConnectionLimits, uvicorn_options
from quarry.server._hosts import HostGuard, HostPolicy

__all__ = [
    "Backend",
    "ConnectionLimits",
    "HostGuard",
    "HostPolicy",
    "create_app",
    "emulated_knowledge",
    "emulator_runtime",
    "open_backend",
    "uvicorn_options",
]
