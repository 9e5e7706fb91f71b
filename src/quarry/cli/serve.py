"""`quarry serve`: the gateway (OpenAI-compatible API) over Amazon Bedrock or the offline emulator."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from quarry import __version__
from quarry.cli._listen import bind, say_when_stopped
from quarry.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default=None, help="Interface to bind.  [default: 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port to listen on; 0 picks a free one.  [default: 8080]")
@click.option(
    "--backend",
    type=click.Choice(["auto", "bedrock", "emulator"]),
    default=None,
    help="bedrock: Amazon Bedrock; emulator: the offline emulator; auto: Bedrock when AWS credentials exist.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 512),
    default=1,
    show_default=True,
    envvar="QUARRY_WORKERS",
    help="Processes serving the one port (about one per core); above 1 needs QUARRY_REDIS_URL.  [env: QUARRY_WORKERS]",
)
def serve(host: str | None, port: int | None, backend: str | None, workers: int) -> None:
    """Serve the OpenAI-compatible API under /v1 (and /api/v1) in front of Amazon Bedrock.

    Without AWS credentials (or with --backend emulator) an offline Bedrock emulator runs in-process.
    Set QUARRY_API_KEY to require `Authorization: Bearer <key>`; without it Quarry listens on loopback only.
    """
    import uvicorn

    from quarry.api import AppContext
    from quarry.cli._accept import Server
    from quarry.cli._gc import settle_gc
    from quarry.cli._workers import Slot, supervise
    from quarry.observability import configure_logging
    from quarry.server import create_app, uvicorn_options

    overrides = {k: v for k, v in {"host": host, "port": port, "backend": backend}.items() if v is not None}
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]  # validated by pydantic
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from None
    keyed = bool(settings.api_key or settings.api_key_secret_id or settings.api_key_ssm_parameter)
    if not keyed and not _is_loopback(settings.host):
        raise click.UsageError(
            f"refusing to listen on {settings.host} without an API key: set QUARRY_API_KEY (or"
            " QUARRY_API_KEY_SECRET_ID / QUARRY_API_KEY_SSM_PARAMETER), or bind 127.0.0.1."
        )
    if workers > 1 and not settings.redis_url:
        # Rate limits, concurrency limits and budget reservations live in each process's memory without Redis: N
        # workers would each grant a key its whole limit. Refused rather than served wrong (docs/configuration.md).
        raise click.UsageError(
            f"--workers {workers} needs QUARRY_REDIS_URL (redis://…): without Redis each worker keeps its own per-key"
            " rate limits, concurrency limits and budgets, so a key would get its limits once per worker. Set"
            " QUARRY_REDIS_URL, or run one worker (--workers 1)."
        )
    sock = bind(settings.host, settings.port, "serve")
    url = f"http://{settings.host}:{sock.getsockname()[1]}"

    def banner(context: AppContext) -> None:
        settle_gc()
        click.echo(f"Quarry {url}  (version {__version__}; Ctrl-C stops it)")
        if workers > 1:
            click.echo(f"  workers: {workers} processes (pid {os.getppid()} supervises)")
        click.echo(f"  backend: {context.backend.description}")
        click.echo(f"  data: {settings.data_dir}  (keys, usage, conversations, knowledge bases; QUARRY_DATA_DIR)")
        if not keyed:
            click.echo("  auth: no QUARRY_API_KEY set, so listening on loopback only; team keys are checked if any")
        else:
            click.echo("  auth: the bootstrap (admin) key and team keys (`quarry keys create`)")
        click.echo(f'  OpenAI SDK: OpenAI(base_url="{url}/v1", api_key=...)')
        click.echo(f'  Anthropic SDK / Claude Code: ANTHROPIC_BASE_URL="{url}" ANTHROPIC_API_KEY=...')
        if context.ui_mounted:
            click.echo(f"  Toolbox: {url}/ui")
        sys.stdout.flush()

    configure_logging()

    def made(on_ready: Callable[[AppContext], None]) -> FastAPI:
        try:
            return create_app(settings, on_ready=on_ready)
        except RuntimeError as exc:  # configured for a feature whose extra is missing (tracing): one line naming it
            raise click.UsageError(str(exc)) from None

    def config(app: FastAPI) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            log_config=None,  # configure_logging has set uvicorn's loggers to JSON on stderr
            log_level="warning",
            access_log=False,  # Quarry's own access log has the request id, key, model and tokens
            server_header=False,
            lifespan="on",
            # On SIGTERM or Ctrl-C uvicorn stops accepting, lets requests and streams in flight run this long, then
            # cancels what is left and shuts down.
            timeout_graceful_shutdown=settings.shutdown_grace_s,  # type: ignore[arg-type]  # a float works as well
            **uvicorn_options(settings),  # header and body timeouts, keep-alive, the bound on open connections
        )

    if workers == 1:
        say_when_stopped("Quarry")
        Server(config(made(banner))).run(sockets=[sock])
        return

    def serve_one(slot: Slot) -> int:
        def on_ready(context: AppContext) -> None:
            if slot.banner:
                banner(context)  # settles the collector too
            else:
                settle_gc()
            slot.ready()

        # Each worker builds its own app after the fork: its own database connections, Redis pool, usage writer
        # and, offline, its own in-process emulator.
        server = slot.server(config(made(on_ready)))
        server.run(sockets=[sock])
        return 0 if server.started else 3  # 3: uvicorn's status for a failed start-up

    supervise(workers, serve_one)
