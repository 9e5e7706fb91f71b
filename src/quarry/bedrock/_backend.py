"""Which Bedrock the gateway talks to, as the clients for it: Amazon Bedrock, or an emulator speaking its protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from quarry.bedrock._agent import BedrockAgentRuntime
from quarry.bedrock._control import BedrockControl
from quarry.bedrock._runtime import BedrockRuntime

__all__ = ["Backend"]


@dataclass(slots=True)
class Backend:
    kind: Literal["bedrock", "emulator"]
    runtime: BedrockRuntime
    control: BedrockControl
    agent: BedrockAgentRuntime  # bedrock-agent-runtime: Retrieve from managed knowledge bases
    region: str
    description: str  # one line for the banner and /health
