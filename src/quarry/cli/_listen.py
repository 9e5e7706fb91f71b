"""What every serving command shares: binding its socket with a one-line message when it cannot, and saying that it
stopped."""

from __future__ import annotations

import errno
import socket

import click

__all__ = ["bind", "stopped"]


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


def stopped(what: str) -> None:
    """Say that the server has stopped (after SIGTERM or Ctrl-C), so the terminal does not end in silence."""
    click.echo(f"{what} stopped.")
