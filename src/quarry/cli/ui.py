"""`quarry ui`: the toolbox alone, as a client of any Quarry; `quarry ui hash-password` for `[ui] users`."""

from __future__ import annotations

import click

from quarry.cli._listen import bind, say_when_stopped
from quarry.settings import Settings

__all__ = ["ui"]


@click.group(invoke_without_command=True)
@click.option(
    "--api-url",
    default=None,
    help="The Quarry the toolbox calls; users cannot change it.  [default: QUARRY_UI__API_URL, else "
    "http://127.0.0.1:8080]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=int, default=7860, show_default=True, help="Port to listen on; 0 picks a free one.")
@click.pass_context
def ui(context: click.Context, api_url: str | None, host: str, port: int) -> None:
    """Serve the toolbox web UI at /ui, calling the Quarry at --api-url.

    It holds no key of its own: each user types theirs in Settings, or, signed in, calls with a credential
    derived from their sign-in, which that Quarry accepts when both share `ui.credential_secret` (or the data dir).
    On any interface but loopback, sign-in must be configured ([ui] users or trusted_header).
    """
    if context.invoked_subcommand is not None:
        return
    import uvicorn
    from fastapi import FastAPI

    from quarry.auth import toolbox_credentials
    from quarry.cli._accept import Server
    from quarry.server import HostGuard, HostPolicy, uvicorn_options
    from quarry.ui import PATH, ui_available
    from quarry.ui import mount_toolbox as mount

    if not ui_available():
        raise click.UsageError("the toolbox needs the `ui` extra: pip install 'quarry[ui]'")
    settings = Settings(host=host, port=port)
    api_url = api_url or settings.ui.api_url or "http://127.0.0.1:8080"
    exposed = host not in ("127.0.0.1", "::1", "localhost")
    if exposed and not (settings.ui.users or settings.ui.trusted_header):
        raise click.UsageError(f"refusing to serve the toolbox on {host} without sign-in: configure [ui] users.")
    sock = bind(host, port, "ui")  # first: a busy port is said before Gradio takes seconds to build the page
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    mount(app, settings, api_url=api_url, credentials=toolbox_credentials(settings))
    app.add_middleware(HostGuard, policy=HostPolicy.of(settings))  # the DNS-rebinding guard `quarry serve` has
    say_when_stopped("Quarry toolbox")  # before the banner: from then on, Ctrl-C is answered
    click.echo(f"Quarry toolbox http://{host}:{sock.getsockname()[1]}{PATH}/  (calling {api_url}; Ctrl-C stops it)")
    options = uvicorn_options(settings)  # header and body timeouts, keep-alive, the bound on open connections
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, **options)
    Server(config).run(sockets=[sock])


@ui.command("hash-password")
@click.password_option()
def hash_password(password: str) -> None:
    """Print a password hash for `[ui] users` in quarry.toml."""
    from quarry.ui import hash_password as encode

    click.echo(encode(password))
