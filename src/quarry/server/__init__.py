"""The gateway's ASGI app (`create_app`) and its backend wiring."""

from quarry.server._app import create_app
from quarry.server._backend import Backend, emulated_knowledge, emulator_runtime, open_backend
from quarry.server._connections import ConnectionLimits, uvicorn_options

__all__ = [
    "Backend",
    "ConnectionLimits",
    "create_app",
    "emulated_knowledge",
    "emulator_runtime",
    "open_backend",
    "uvicorn_options",
]
