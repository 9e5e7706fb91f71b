"""The Bedrock control plane (`bedrock`): foundation models and inference profiles, through aiobotocore.

These calls are rare (the model list is cached), so botocore's full machinery is worth its cost here.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from quarry.bedrock._errors import error_from_response
from quarry.errors import InvalidRequest, UpstreamUnavailable
from quarry.settings import BedrockSettings

__all__ = ["BedrockControl"]


class BedrockControl:
    """ListFoundationModels and ListInferenceProfiles (and any other read, for the Bedrock dialect). Create inside
    the running loop; `aclose()` when done."""

    def __init__(
        self,
        session: AioSession,
        *,
        region: str,
        endpoint_url: str,
        settings: BedrockSettings,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self._session = session
        self._credentials = credentials or {}
        self._region = region
        self._endpoint_url = endpoint_url
        self._settings = settings
        self._stack = AsyncExitStack()
        self._client: Any = None

    async def _bedrock(self) -> Any:
        if self._client is None:
            config = AioConfig(
                connect_timeout=self._settings.connect_timeout_s,
                read_timeout=60,
                # botocore's `max_attempts` counts retries only; `total_max_attempts` counts tries, like the setting.
                retries={"mode": "standard", "total_max_attempts": self._settings.max_attempts},
            )
            creator = self._session.create_client(
                "bedrock", region_name=self._region, endpoint_url=self._endpoint_url, config=config, **self._credentials
            )
            self._client = await self._stack.enter_async_context(creator)
        return self._client

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def foundation_models(self) -> list[dict[str, Any]]:
        """Every foundation model summary in the region."""
        try:
            client = await self._bedrock()
            answer = await client.list_foundation_models()
        except (BotoCoreError, ClientError) as exc:
            raise _mapped(exc) from None
        return list(answer.get("modelSummaries", []))

    async def inference_profiles(self) -> list[dict[str, Any]]:
        """Every system-defined inference profile the region may call, all pages."""
        profiles: list[dict[str, Any]] = []
        try:
            client = await self._bedrock()
            paginator = client.get_paginator("list_inference_profiles")
            async for page in paginator.paginate(typeEquals="SYSTEM_DEFINED"):
                profiles.extend(page.get("inferenceProfileSummaries", []))
        except (BotoCoreError, ClientError) as exc:
            raise _mapped(exc) from None
        return profiles

    async def read(self, operation: str, **params: Any) -> dict[str, Any]:
        """One read of the control plane (`get_foundation_model`, `list_inference_profiles`, …) as botocore parses
        it, for relaying Bedrock's own API; errors mapped, with Bedrock's code kept on them."""
        try:
            client = await self._bedrock()
            answer: dict[str, Any] = await getattr(client, operation)(**params)
        except ParamValidationError as exc:  # the caller's query, checked against the service model
            raise InvalidRequest(str(exc).replace("\n", " "), code="ValidationException") from None
        except (BotoCoreError, ClientError) as exc:
            raise _mapped(exc) from None
        answer.pop("ResponseMetadata", None)
        return answer


def _mapped(exc: Exception) -> Exception:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        return error_from_response(status, error.get("Code"), str(error.get("Message", "")).encode())
    return UpstreamUnavailable(f"the Bedrock control plane failed: {exc}")
