"""CORS from settings: browsers on the listed origins may call the APIs with the SDKs' headers."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from quarry.settings import CorsSettings

__all__ = ["add_cors"]


def add_cors(app: FastAPI, cors: CorsSettings) -> None:
    """Add Starlette's CORS middleware when any origin is allowed; without one, no CORS header is ever sent."""
    if not cors.allow_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=cors.allow_origins,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=cors.allow_headers,
        expose_headers=cors.expose_headers,
        # Keys travel in headers, never cookies: credentialed requests are not needed, and `*` stays usable.
        allow_credentials=False,
        max_age=cors.max_age_s,
    )
