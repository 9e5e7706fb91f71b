"""Putting the toolbox on a server: mounted at /ui by `quarry serve`, or served alone by `quarry ui`."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import ipaddress
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quarry.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from quarry.ui._toolbox import CredentialIssuer

__all__ = ["PATH", "browser_secret", "mount_toolbox", "mount_ui", "ui_available"]

log = logging.getLogger("quarry.ui")
PATH = "/ui"


def ui_available() -> bool:
    """Whether the `ui` extra (Gradio) is installed."""
    return importlib.util.find_spec("gradio") is not None


def browser_secret(settings: Settings) -> str:
    """The key Gradio seals each browser's stored toolbox id with; stable, so ids outlive restarts.

    It guards nothing that matters: without sign-in the toolbox serves loopback only (whoever is on the machine
    can read the data dir anyway), and with sign-in the user is the signed-in name, not the browser's id.
    """
    return hashlib.sha256(f"quarry-toolbox:{settings.data_dir}".encode()).hexdigest()[:32]


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mount_toolbox(
    app: FastAPI, settings: Settings, *, api_url: str | None, credentials: CredentialIssuer | None = None
) -> None:
    """Mount the toolbox at /ui of `app`, calling Quarry at `api_url` (None: the server it is mounted on).

    It is given no key: its users call with their own (typed in Settings, or derived from their sign-in by
    `credentials`, used only when sign-in is configured)."""
    _in_a_loop(lambda: _mount(app, settings, api_url=api_url, credentials=credentials))


def _mount(app: FastAPI, settings: Settings, *, api_url: str | None, credentials: CredentialIssuer | None) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from quarry.throttle import Throttle
    from quarry.ui._auth import password_checker, trusted_header_identity
    from quarry.ui._blocks import build_blocks
    from quarry.ui._login_throttle import LoginThrottle
    from quarry.ui._toolbox import Toolbox, ToolboxConfig

    ui = settings.ui
    config = ToolboxConfig(
        api_url=api_url,
        default_model=settings.models.default,
        credentials=credentials if ui.users or ui.trusted_header else None,
        timeout_s=ui.api_timeout_s,
        compress_after_tokens=ui.compress_after_tokens,
        keep_recent_messages=ui.keep_recent_messages,
        split_tokens=ui.split_tokens,
    )
    toolbox = Toolbox(config)
    blocks = build_blocks(toolbox, browser_secret=browser_secret(settings))
    sign_in: dict[str, Any] = {}
    if ui.trusted_header:
        sign_in["auth_dependency"] = trusted_header_identity(ui.trusted_header, ui.trusted_proxies)
    elif ui.users:
        sign_in["auth"] = password_checker(ui.users)
        throttle = Throttle(lockout_s=ui.login_lockout_s)
        limits = {"per_user": ui.login_failures, "per_address": ui.login_failures_per_address}
        app.add_middleware(LoginThrottle, path=PATH, throttle=throttle, **limits)
        # Gradio's page shows only its own "incorrect credentials" (for a 400), so the lockout is announced here.
        sign_in["auth_message"] = "Sign in to the Quarry toolbox. After repeated failures, sign-in pauses for a while."
    _add_favicon(app)
    _in_a_loop(
        lambda: gr.mount_gradio_app(
            app,
            blocks,
            path=PATH,
            ssr_mode=False,
            footer_links=[],
            show_error=False,
            # Gradio would keep every event's inputs in the browser (a typed API key among them) and offer to
            # upload them to a Hugging Face bucket: nothing a user types is kept outside Quarry.
            run_history=False,
            **sign_in,
        )
    )
    _poll_less(blocks)


# Gradio's queue polls for work: every millisecond for a new event and every 10 ms for progress on Linux
# (gradio/queueing.py, Queue.__init__). That kept an idle `quarry serve` at 15% of a core, and a test session's
# hundred mounted toolboxes at most of one. A person does not notice 25 ms before an event starts, and the toolbox
# reports no progress through Gradio's channel.
_EVENT_POLL_S = 0.025
_PROGRESS_POLL_S = 0.25


def _poll_less(blocks: Any) -> None:
    queue = getattr(blocks, "_queue", None)  # Gradio's attribute; absent, the defaults simply stay
    if queue is None:
        return
    if hasattr(queue, "sleep_when_free"):
        queue.sleep_when_free = max(queue.sleep_when_free, _EVENT_POLL_S)
    if hasattr(queue, "progress_update_sleep_when_free"):
        queue.progress_update_sleep_when_free = max(queue.progress_update_sleep_when_free, _PROGRESS_POLL_S)


def _add_favicon(app: FastAPI) -> None:
    """Quarry's icon at /favicon.ico, where browsers ask for it (the toolbox's page names none), from the package:
    no network, and no 404 in the log for every page opened."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    icon = (Path(__file__).parent / "favicon.svg").read_bytes()

    async def favicon(_: Request) -> Response:
        return Response(icon, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

    app.router.routes.append(Route("/favicon.ico", favicon, methods=["GET", "HEAD"], include_in_schema=False))


def _in_a_loop(build: Callable[[], object]) -> None:
    """Run `build` with an event loop running: Gradio creates (and never closes) a loop of its own otherwise.

    Its locks and events bind to a loop only when first used, so they serve the server's loop later.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:

        async def run() -> None:
            build()

        asyncio.run(run())
    else:
        build()


def mount_ui(app: FastAPI, settings: Settings, *, credentials: CredentialIssuer | None = None) -> bool:
    """Mount the toolbox inside `quarry serve` when the `ui` extra is installed and it is safe to; say why not."""
    if not settings.ui.enabled:
        return False
    if not ui_available():
        log.info("toolbox UI not mounted: install the `ui` extra (pip install 'quarry[ui]')")
        return False
    if not _is_loopback(settings.host) and not (settings.ui.users or settings.ui.trusted_header):
        log.warning(
            "toolbox UI not mounted: %s is not loopback and no sign-in is configured ([ui] users)", settings.host
        )
        return False
    mount_toolbox(app, settings, api_url=settings.ui.api_url, credentials=credentials)
    return True
