"""The key's or model's guardrail on Bedrock's own routes, added only where the caller named none: Converse's
`guardrailConfig` in the body, InvokeModel's `X-Amzn-Bedrock-GuardrailIdentifier` / `-GuardrailVersion` /
`-Trace` headers (botocore's bedrock-runtime service model), and for a stream in asynchronous mode the body's
`amazon-bedrock-guardrailConfig` (AWS user guide, guardrails-streaming.html). Bedrock then judges the call and
answers in its own shapes (`guardrail_intervened`, `amazon-bedrock-guardrailAction`), which pass through untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from quarry.api._core import guardrail_config
from quarry.settings import GuardrailSettings

__all__ = ["guarded_call"]

_IDENTIFIER = "x-amzn-bedrock-guardrailidentifier"


def guarded_call(
    operation: str, body: bytes, decoded: dict[str, Any], headers: Mapping[str, str], guardrail: GuardrailSettings
) -> tuple[bytes, dict[str, str]]:
    """The body and headers to relay for `operation` with the guardrail added, or as they were when the caller gave
    a guardrail of its own (or the body is not a conversation Bedrock can guard)."""
    sent = {name.lower(): value for name, value in headers.items()}
    if operation in ("converse", "converse-stream"):
        if not decoded or "guardrailConfig" in decoded:
            return body, sent
        config = guardrail_config(guardrail, stream=operation == "converse-stream")
        return orjson.dumps(decoded | {"guardrailConfig": config}), sent
    if operation in ("invoke", "invoke-with-response-stream") and "messages" in decoded and _IDENTIFIER not in sent:
        sent[_IDENTIFIER] = guardrail.identifier
        sent["x-amzn-bedrock-guardrailversion"] = guardrail.version
        sent["x-amzn-bedrock-trace"] = guardrail.trace.upper()
        if operation == "invoke-with-response-stream" and guardrail.stream_processing_mode == "async":
            body = orjson.dumps(decoded | {"amazon-bedrock-guardrailConfig": {"streamProcessingMode": "ASYNCHRONOUS"}})
    return body, sent
