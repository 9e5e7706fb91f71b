"""What every serving command shares: binding its socket with a one-line message when it cannot, and saying that it
stopped when a signal ends it."""

from __future__ import annotations

import errno
import signal
import socket
import sys
import threading
from types import FrameType

import click

__all__ = ["bind", "say_when_stopped"]


def bind(host: str, port: int, command: str) -> socket.socket:
    """The listening socket, or a one-line error saying which address and what to do (not a traceback)."""
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another Quarry, or another program): stop it, or run "
                f"`quarry {command} --port N` with a free port (0 picks one)."
            ) from None
        if exc.errno == errno.EACCES:
            raise click.ClickException(
                f"not allowed to listen on {where}: ports below 1024 need privileges; use --port 8080 or another."
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise click.ClickException(
                f"cannot listen on {where}: {host} is not an address of this machine; use --host 127.0.0.1 or "
                "one of its own addresses."
            ) from None
        raise click.ClickException(f"cannot listen on {where}: {exc.strerror or exc}.") from None


def say_when_stopped(what: str) -> None:
    """Once the server has shut down after SIGTERM or Ctrl-C, print that `what` stopped, then end as the signal
    would (so a supervisor still sees the signal's exit status).

    uvicorn replaces these handlers while it serves, shuts down gracefully, restores them and raises the signal it
    caught again: the handler installed here is the one that then runs. Without it, SIGTERM ended the process in
    silence and Ctrl-C with click's bare "Aborted!".
    """
    if threading.current_thread() is not threading.main_thread():  # signals are the main thread's
        return

    def stop(signum: int, _: FrameType | None) -> None:
        click.echo(f"{what} stopped ({signal.Signals(signum).name}).")
        sys.stdout.flush()
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
