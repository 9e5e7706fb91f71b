"""`quarry serve --workers N`: N forked processes serving one listening socket, and a small supervisor over them.

Why a supervisor of our own rather than uvicorn's (`uvicorn.run(..., workers=N)`): uvicorn's spawns fresh
interpreters that import the app from a string and rebuild it from the environment, so the command line's settings
would have to travel through environment variables, every worker would print the banner, and a Ctrl-C reaches the
workers twice (the terminal's SIGINT, then the supervisor's SIGTERM), which uvicorn takes as "force exit" and so
cuts the streams in flight. Forking after the socket is bound keeps one Settings object, lets worker 0 alone print
the banner, and lets every signal mean the same graceful stop in a worker. The kernel spreads the connections
between the processes accepting on the shared socket.

The supervisor: SIGTERM or SIGINT is passed on to every worker as SIGTERM; once they have all ended it prints that
Quarry stopped and ends as the signal would (like one worker, `say_when_stopped`). A worker that ends by itself
after it started is replaced; one that fails to start stops the others and the command fails (its error is on
stderr). A worker whose supervisor dies (SIGKILL) notices within a tenth of a second and shuts down gracefully,
rather than keep the port as an orphan.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import click
import uvicorn

from quarry.cli._accept import Server

__all__ = ["Slot", "WorkerServer", "supervise"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(slots=True)
class Slot:
    """What a worker is told: whether it prints the banner (the first worker only), how to say it has started, and
    the stop signals that came before uvicorn took the signals over (while the app was being built)."""

    banner: bool
    _ready_fd: int
    early: list[int] = field(default_factory=list)

    def ready(self) -> None:
        os.write(self._ready_fd, b"1")

    def server(self, config: uvicorn.Config) -> WorkerServer:
        return WorkerServer(config, self)


# serve(slot): build the app and run it with `slot.server(config)`; returns the process's exit status.
Serve = Callable[[Slot], int]


class WorkerServer(Server):
    """uvicorn in a worker: any stop signal is a graceful stop, and so is the supervisor's death."""

    def __init__(self, config: uvicorn.Config, slot: Slot) -> None:
        super().__init__(config)
        self._parent = os.getppid()
        self._slot = slot

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        with self.capture_signals():
            # A stop asked for while the app was built: uvicorn still starts the app, then shuts it down at once.
            self.should_exit = bool(self._slot.early)
            await self._serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn takes a second SIGINT as "force exit"; in a worker SIGINT (the terminal's) and SIGTERM (the
        # supervisor's) arrive together for one Ctrl-C, and both mean: stop gracefully.
        super().handle_exit(signal.SIGTERM, frame)

    async def on_tick(self, counter: int) -> bool:
        if os.getppid() != self._parent:  # re-parented: the supervisor is gone
            self.should_exit = True
        return await super().on_tick(counter)


@dataclass(slots=True)
class _Worker:
    index: int
    ready: int  # read end of the pipe on which the worker says it has started


def _fork(index: int, serve: Serve, *, banner: bool) -> tuple[int, _Worker]:
    read, write = os.pipe()
    # Stop signals wait until each side has its own handlers: the supervisor's, run in a worker, would signal the
    # worker's siblings.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        os.close(write)
        return pid, _Worker(index, read)
    # The worker. It never returns into the caller's code: os._exit, so the supervisor's click and atexit
    # handlers do not run twice.
    status = 1
    try:
        os.close(read)
        slot = Slot(banner, write)
        for signum in _STOP_SIGNALS:
            # Until uvicorn takes them over, a stop signal is noted for WorkerServer.serve; uvicorn restores this
            # handler after its graceful stop and raises the signal again, which is then noted to no effect, and
            # the worker ends with its own status below.
            signal.signal(signum, lambda signum, _: slot.early.append(signum))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        status = serve(slot)
    except BaseException:  # whatever ends the worker is printed, then it exits with status 1
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _started(worker: _Worker) -> bool:
    """Whether the ended worker had said it started (its pipe holds the byte; nobody else can write to it)."""
    try:
        return os.read(worker.ready, 1) == b"1"
    finally:
        os.close(worker.ready)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def supervise(count: int, serve: Serve, what: str = "Quarry") -> None:
    """Run `count` workers (each serving the socket bound before) until a signal stops them (module docstring)."""
    if not hasattr(os, "fork"):
        raise click.UsageError("--workers above 1 needs a platform with fork() (Linux, macOS); run one worker.")
    workers: dict[int, _Worker] = {}
    stopping: list[int] = []  # the signal that stops the service, once one has come

    def stop(signum: int, _: FrameType | None) -> None:
        if not stopping:
            stopping.append(signum)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):  # already ended; reaped below
                os.kill(pid, signal.SIGTERM)

    for signum in _STOP_SIGNALS:
        signal.signal(signum, stop)
    for index in range(count):
        pid, worker = _fork(index, serve, banner=index == 0)
        workers[pid] = worker
    if stopping:  # the signal came while the workers were being forked: those forked after it have not heard it
        stop(stopping[0], None)
    # The supervisor keeps its copy of `sock` open (it never accepts on it) for the workers that replace others.
    failed = False
    while workers:
        pid, status = os.wait()  # retried after a signal handler runs (PEP 475)
        if pid not in workers:
            continue
        worker = workers.pop(pid)
        started = _started(worker)
        if stopping or failed:
            continue
        if not started:
            click.echo(f"{what} worker {worker.index} failed to start ({_describe(status)}); stopping.", err=True)
            failed = True
            stop(signal.SIGTERM, None)
            stopping.clear()
            continue
        click.echo(f"{what} worker {worker.index} ended ({_describe(status)}); starting another.", err=True)
        new_pid, new_worker = _fork(worker.index, serve, banner=False)
        workers[new_pid] = new_worker
    if failed:
        raise SystemExit(1)
    click.echo(f"{what} stopped ({signal.Signals(stopping[0]).name}).")
    sys.stdout.flush()
    signal.signal(stopping[0], signal.SIG_DFL)
    signal.raise_signal(stopping[0])
