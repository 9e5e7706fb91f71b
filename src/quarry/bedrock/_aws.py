"""Where Bedrock is and who Quarry is there: botocore's region, endpoint and credential resolution."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from aiobotocore.session import AioSession

from quarry.bedrock._signing import BearerTokenSigner, RequestSigner, SigV4Signer

__all__ = ["AwsTarget", "resolve_aws"]

BEARER_TOKEN_VARIABLE = "AWS_BEARER_TOKEN_BEDROCK"  # noqa: S105  # the variable name, not a secret


@dataclass(frozen=True, slots=True)
class AwsTarget:
    region: str
    runtime_url: str
    control_url: str
    agent_runtime_url: str  # bedrock-agent-runtime: Retrieve from Bedrock Knowledge Bases
    signer: RequestSigner
    session: AioSession
    identity: str  # for the banner: which credentials are in use


async def _endpoint(session: AioSession, service: str, region: str, override: str | None) -> str:
    # Creating a client runs botocore's whole endpoint resolution: AWS_ENDPOINT_URL_<SERVICE>,
    # AWS_ENDPOINT_URL, the config file's `services` sections, FIPS and dual-stack settings.
    async with session.create_client(service, region_name=region, endpoint_url=override) as client:
        url: str = client.meta.endpoint_url
    return url


async def resolve_aws(
    *,
    default_region: str,
    runtime_url: str | None = None,
    control_url: str | None = None,
    agent_runtime_url: str | None = None,
) -> AwsTarget | None:
    """The AWS target, or None when there are neither credentials nor a Bedrock API key."""
    session = AioSession()
    # AWS_REGION is what Lambda, ECS and the AWS CLI v2 set and read first; botocore reads only
    # AWS_DEFAULT_REGION and the profile.
    region: str = os.environ.get("AWS_REGION") or session.get_config_variable("region") or default_region
    token = os.environ.get(BEARER_TOKEN_VARIABLE)
    signer: RequestSigner
    if token:
        signer, identity = BearerTokenSigner(token), f"Bedrock API key ({BEARER_TOKEN_VARIABLE})"
    else:
        credentials: Any = await session.get_credentials()
        if credentials is None:
            return None
        signer, identity = SigV4Signer(credentials, region), f"AWS credentials from {credentials.method}"
    return AwsTarget(
        region=region,
        runtime_url=await _endpoint(session, "bedrock-runtime", region, runtime_url),
        control_url=await _endpoint(session, "bedrock", region, control_url),
        agent_runtime_url=await _endpoint(session, "bedrock-agent-runtime", region, agent_runtime_url),
        signer=signer,
        session=session,
        identity=identity,
    )
