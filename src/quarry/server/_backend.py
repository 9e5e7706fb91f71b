"""Which Bedrock the gateway talks to: Amazon Bedrock when AWS credentials exist, else the in-process emulator."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Literal

import uvicorn
from aiobotocore.session import AioSession

from quarry.bedrock import BedrockControl, BedrockRuntime, SigV4Signer, StaticCredentials, resolve_aws
from quarry.errors import UpstreamUnavailable
from quarry.settings import Settings

__all__ = ["Backend", "open_backend"]

_EMULATOR_KEYS = {"aws_access_key_id": "emulator", "aws_secret_access_key": "emulator"}


@dataclass(slots=True)
class Backend:
    kind: Literal["bedrock", "emulator"]
    runtime: BedrockRuntime
    control: BedrockControl
    region: str
    description: str  # one line for the banner and /health


class _QuietServer(uvicorn.Server):
    """A uvicorn server inside another: the outer server owns the process signals (and logging)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _start_emulator(settings: Settings, stack: AsyncExitStack) -> str:
    from quarry.emulator import EmulatorApp

    sock = socket.create_server(("127.0.0.1", 0))
    # log_config=None: the process's logging belongs to the outer server (uvicorn's default would replace it).
    config = uvicorn.Config(
        EmulatorApp(settings.emulator), lifespan="off", log_config=None, log_level="warning", access_log=False
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop() -> None:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        sock.close()

    stack.push_async_callback(stop)
    while not server.started:
        if task.done():
            raise UpstreamUnavailable("the in-process emulator failed to start")
        await asyncio.sleep(0.005)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def open_backend(settings: Settings, stack: AsyncExitStack) -> Backend:
    """Connect to Bedrock or start the emulator, as `settings.backend` says; `stack` closes what was opened."""
    target = None
    if settings.backend != "emulator":
        target = await resolve_aws(default_region=settings.region)
        if target is None and settings.backend == "bedrock":
            raise UpstreamUnavailable(
                "--backend bedrock needs AWS credentials (environment, profile, SSO, container or instance role) "
                "or a Bedrock API key in AWS_BEARER_TOKEN_BEDROCK."
            )
    if target is not None:
        runtime = BedrockRuntime(
            endpoint_url=target.runtime_url, region=target.region, signer=target.signer, settings=settings.bedrock
        )
        control = BedrockControl(
            target.session, region=target.region, endpoint_url=target.control_url, settings=settings.bedrock
        )
        description = f"Amazon Bedrock in {target.region} at {target.runtime_url} ({target.identity})"
        kind: Literal["bedrock", "emulator"] = "bedrock"
        region = target.region
    else:
        url = await _start_emulator(settings, stack)
        region = settings.region
        credentials = StaticCredentials(_EMULATOR_KEYS["aws_access_key_id"], _EMULATOR_KEYS["aws_secret_access_key"])
        runtime = BedrockRuntime(
            endpoint_url=url, region=region, signer=SigV4Signer(credentials, region), settings=settings.bedrock
        )
        control = BedrockControl(
            AioSession(), region=region, endpoint_url=url, settings=settings.bedrock, credentials=_EMULATOR_KEYS
        )
        why = "forced by --backend emulator" if settings.backend == "emulator" else "no AWS credentials found"
        description = f"offline Bedrock emulator at {url} ({why}; answers are synthetic)"
        kind = "emulator"
    stack.push_async_callback(runtime.aclose)
    stack.push_async_callback(control.aclose)
    return Backend(kind=kind, runtime=runtime, control=control, region=region, description=description)
