"""Bedrock Knowledge Bases (`bedrock-agent-runtime`): Retrieve, through aiobotocore.

A retrieval is one request among the several a grounded answer makes (and ends in a model call that costs far
more), so botocore's full machinery is worth its cost here, as for the control plane.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import orjson
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError, ReadTimeoutError

from quarry.bedrock._errors import error_from_response
from quarry.errors import (
    InvalidRequest,
    ModelNotFound,
    NotFound,
    QuarryError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from quarry.settings import BedrockSettings

__all__ = ["BedrockAgentRuntime"]

MAX_RESULTS = 100  # Retrieve's numberOfResults is 1..100


class BedrockAgentRuntime:
    """Retrieve from Bedrock Knowledge Bases. Create inside the running loop; `aclose()` when done."""

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

    async def _agent(self) -> Any:
        if self._client is None:
            config = AioConfig(
                connect_timeout=self._settings.connect_timeout_s,
                read_timeout=self._settings.first_byte_timeout_s,
                # botocore's `max_attempts` counts retries only; `total_max_attempts` counts tries, like the setting.
                retries={"mode": "standard", "total_max_attempts": self._settings.max_attempts},
            )
            creator = self._session.create_client(
                "bedrock-agent-runtime",
                region_name=self._region,
                endpoint_url=self._endpoint_url,
                config=config,
                **self._credentials,
            )
            self._client = await self._stack.enter_async_context(creator)
        return self._client

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def retrieve(
        self,
        knowledge_base_id: str,
        text: str,
        *,
        number_of_results: int = 5,
        search_type: str | None = None,
        filter: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The best `number_of_results` passages for `text`, as Bedrock's retrievalResults, best first.

        `search_type` is HYBRID or SEMANTIC (None: Bedrock decides); `filter` is a RetrievalFilter.
        """
        search: dict[str, Any] = {"numberOfResults": number_of_results}
        if search_type is not None:
            search["overrideSearchType"] = search_type
        if filter is not None:
            search["filter"] = filter
        request: dict[str, Any] = {
            "knowledgeBaseId": knowledge_base_id,
            "retrievalQuery": {"text": text},
            "retrievalConfiguration": {"vectorSearchConfiguration": search},
        }
        results: list[dict[str, Any]] = []
        try:
            client = await self._agent()
            # Bedrock answers a Retrieve whole; a nextToken is followed only while results are still owed.
            while True:
                answer = await client.retrieve(**request)
                page = answer.get("retrievalResults", [])
                results.extend(page)
                token = answer.get("nextToken")
                if not token or not page or len(results) >= number_of_results:
                    break
                request["nextToken"] = token
        except (BotoCoreError, ClientError) as exc:
            raise _mapped(exc) from None
        return results[:number_of_results]


def _mapped(exc: Exception) -> QuarryError:
    if isinstance(exc, ParamValidationError):  # botocore checked the request before sending it
        return InvalidRequest(str(exc), code="ValidationException")
    if isinstance(exc, ReadTimeoutError):
        return UpstreamTimeout(f"Bedrock Knowledge Bases did not answer in time: {exc}")
    if not isinstance(exc, ClientError):
        return UpstreamUnavailable(f"cannot reach Bedrock Knowledge Bases: {exc}")
    error = exc.response.get("Error", {})
    metadata = exc.response.get("ResponseMetadata", {})
    code = str(error.get("Code") or "")
    body = orjson.dumps({"message": str(error.get("Message") or "")})
    mapped = error_from_response(metadata.get("HTTPStatusCode", 500), code, body)
    if isinstance(mapped, ModelNotFound):  # here the missing resource is a knowledge base, not a model
        return NotFound(mapped.message, code=mapped.code, param="knowledge_base_id")
    if code == "DependencyFailedException":  # Bedrock's own dependency (the vector store, STS) failed
        return UpstreamError(mapped.message, code=code)
    if isinstance(mapped, RateLimited):
        retry_after = metadata.get("HTTPHeaders", {}).get("retry-after")
        if retry_after and retry_after.isascii() and retry_after.replace(".", "", 1).isdigit():
            mapped.retry_after = float(retry_after)
    return mapped
