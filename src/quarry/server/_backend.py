"""Which Bedrock the gateway talks to: Amazon Bedrock when AWS credentials exist, else the in-process emulator."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Literal

import uvicorn
from aiobotocore.session import AioSession

from quarry.bedrock import (
    Backend,
    BedrockAgentRuntime,
    BedrockControl,
    BedrockRuntime,
    SigV4Signer,
    StaticCredentials,
    resolve_aws,
)
from quarry.errors import UpstreamUnavailable
from quarry.settings import Settings

if TYPE_CHECKING:
    from quarry.server._emulated import EmulatedKnowledge  # needs the kb extra: imported at run time when present

__all__ = ["Backend", "emulated_knowledge", "emulator_runtime", "open_backend"]

_EMULATOR_KEYS = {"aws_access_key_id": "emulator", "aws_secret_access_key": "emulator"}


class _QuietServer(uvicorn.Server):
    """A uvicorn server inside another: the outer server owns the process signals (and logging), and says when to
    stop, so this one need not poll for it ten times a second as uvicorn's main loop does; it wakes once a second,
    to keep its Date header true."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopping = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        ticks = 0
        while not await self.on_tick(ticks):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=1)
            ticks += 10  # uvicorn's on_tick refreshes the Date header on every tenth tick

    def stop(self) -> None:
        self.should_exit = True
        self._stopping.set()


def emulated_knowledge(
    settings: Settings, runtime: Callable[[], BedrockRuntime], *, owns_runtime: bool = False
) -> EmulatedKnowledge | None:
    """The emulator's Retrieve answered from the local knowledge bases (None without the kb extra). `runtime`
    is asked for on first use: the emulator's own, which exists only once it runs."""
    try:
        from quarry.kb import KnowledgeBases, open_knowledge_bases
        from quarry.server._emulated import EmulatedKnowledge
    except ImportError:
        return None

    async def open_knowledge() -> KnowledgeBases:
        return open_knowledge_bases(settings, runtime(), owns_runtime=owns_runtime)

    return EmulatedKnowledge(open_knowledge)


async def _start_emulator(settings: Settings, stack: AsyncExitStack, knowledge: EmulatedKnowledge | None) -> str:
    from quarry.emulator import EmulatorApp

    sock = socket.create_server(("127.0.0.1", 0))
    # log_config=None: the process's logging belongs to the outer server (uvicorn's default would replace it).
    app = EmulatorApp(settings.emulator, knowledge=knowledge)
    config = uvicorn.Config(app, lifespan="off", log_config=None, log_level="warning", access_log=False)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop() -> None:
        server.stop()
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
            endpoint_url=target.runtime_url,
            region=target.region,
            signer=target.signer,
            settings=settings.bedrock,
            resilience=settings.resilience,
        )
        control = BedrockControl(
            target.session, region=target.region, endpoint_url=target.control_url, settings=settings.bedrock
        )
        agent = BedrockAgentRuntime(
            target.session, region=target.region, endpoint_url=target.agent_runtime_url, settings=settings.bedrock
        )
        description = f"Amazon Bedrock in {target.region} at {target.runtime_url} ({target.identity})"
        kind: Literal["bedrock", "emulator"] = "bedrock"
        region = target.region
    else:
        ready: list[BedrockRuntime] = []
        knowledge = emulated_knowledge(settings, lambda: ready[0])
        url = await _start_emulator(settings, stack, knowledge)
        if knowledge is not None:
            stack.push_async_callback(knowledge.aclose)
        region = settings.region
        runtime = emulator_runtime(url, region, settings)
        ready.append(runtime)
        agent = BedrockAgentRuntime(
            AioSession(), region=region, endpoint_url=url, settings=settings.bedrock, credentials=_EMULATOR_KEYS
        )
        control = BedrockControl(
            AioSession(), region=region, endpoint_url=url, settings=settings.bedrock, credentials=_EMULATOR_KEYS
        )
        why = "forced by --backend emulator" if settings.backend == "emulator" else "no AWS credentials found"
        description = f"offline Bedrock emulator at {url} ({why}; answers are synthetic)"
        kind = "emulator"
    stack.push_async_callback(runtime.aclose)
    stack.push_async_callback(control.aclose)
    stack.push_async_callback(agent.aclose)
    return Backend(kind=kind, runtime=runtime, control=control, agent=agent, region=region, description=description)


def emulator_runtime(url: str, region: str, settings: Settings) -> BedrockRuntime:
    """A runtime client for an emulator at `url` (any credentials do; these are fixed)."""
    credentials = StaticCredentials(_EMULATOR_KEYS["aws_access_key_id"], _EMULATOR_KEYS["aws_secret_access_key"])
    return BedrockRuntime(
        endpoint_url=url,
        region=region,
        signer=SigV4Signer(credentials, region),
        settings=settings.bedrock,
        resilience=settings.resilience,
    )
