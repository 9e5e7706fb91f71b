"""Bedrock's native Messages endpoint, `POST /anthropic/v1/messages` on bedrock-runtime (docs/bedrock-models-2026.md
§3): Anthropic's Messages API served by Bedrock, for the Claude models whose `ClaudeRules.messages_api` is set.

What differs from InvokeModel on the same model is only the envelope: `model` and `stream` travel in the body, the
API version in the `anthropic-version` header (not `anthropic_version` in the body), betas in `anthropic-beta`, a
stream is Anthropic's SSE (not AWS's event-stream), errors are Anthropic's JSON, and a Bedrock API key may come in
`x-api-key`. The body itself is turned into the InvokeModel body and checked by `parse_anthropic`, so every Claude
rule InvokeModel enforces applies here as well, written once.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from quarry.emulator._anthropic import ANTHROPIC_VERSION, parse_anthropic
from quarry.emulator._api_versions import KNOWN_VERSIONS, V2026_10_21, check_2026_10_21
from quarry.emulator._catalog import Catalog, Resolved
from quarry.emulator._conversation import Conversation
from quarry.emulator._errors import BedrockError, ValidationException

__all__ = [
    "MESSAGES_OPERATION",
    "MESSAGES_PATH",
    "MessagesRequest",
    "api_key_region",
    "error_body",
    "parse_messages",
    "sse_error",
    "sse_events",
]

MESSAGES_PATH = b"/anthropic/v1/messages"
MESSAGES_OPERATION = "Messages"  # the name RequestCounts files these calls under (the route has no AWS operation)
# Every `anthropic-version` Anthropic has published that Bedrock serves; which one a model takes is its
# `ClaudeRules.api_versions` (2026-10-21: "On Amazon Bedrock, it's available for Claude 4.7 and later models").
# Fields of InvokeModel's body that the Messages API carries elsewhere (headers), so a body holding them is refused.
_HEADER_FIELDS = ("anthropic_version", "anthropic_beta")

# The error bodies on this route are Anthropic's `{"type": "error", "error": {"type", "message"}, "request_id"}`.
# What Bedrock answers here is not documented (docs/bedrock-models-2026.md §3 "Errors", §9): probes saw both that
# shape and AWS's flat `{"message"}`, and Bedrock's own Anthropic errors are flat (vercel/ai#13992 converts them
# for its Anthropic client). We choose Anthropic's envelope because this route's callers are Anthropic clients,
# which read `error.type` and `error.message` (docs.claude.com/en/api/errors: "Errors are always returned as JSON,
# with a top-level error object that always includes a type and message value"), and keep Bedrock's HTTP status
# and `x-amzn-ErrorType` header, so AWS tooling still sees which Bedrock exception it was. The types follow
# Anthropic's table for each status (400 invalid_request_error, 403 permission_error, 404 not_found_error, 429
# rate_limit_error, 500 api_error; its 529 overloaded_error is Bedrock's 503, its timeout_error Bedrock's 408).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}
_CREDENTIAL = re.compile(r"X-Amz-Credential=[^/&]+/\d{8}/(?P<region>[a-z0-9-]+)/")


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A checked Messages request: the model string as sent (echoed in the answer), and the Conversation."""

    model: str
    stream: bool
    resolved: Resolved
    conversation: Conversation


def _version(headers: Mapping[str, str]) -> str:
    version = headers.get("anthropic-version", "").strip()
    if not version:
        raise ValidationException("anthropic-version: header is required")
    if version not in KNOWN_VERSIONS:
        raise ValidationException(f"anthropic-version: {version!r} is not a valid version")
    return version


def _betas(headers: Mapping[str, str]) -> list[str]:
    return [flag.strip() for flag in headers.get("anthropic-beta", "").split(",") if flag.strip()]


def parse_messages(raw: bytes, headers: Mapping[str, str], catalog: Catalog, region: str) -> MessagesRequest:
    """Check a Messages request as the route does, then its body as InvokeModel checks Claude's."""
    version = _version(headers)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationException("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ValidationException("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ValidationException("model: Field required")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ValidationException("stream: Input should be a valid boolean")
    for name in _HEADER_FIELDS:
        if name in body:
            raise ValidationException(f"{name}: Extra inputs are not permitted")
    # Bedrock's resolution, as for InvokeModel: a bare `anthropic.*` id of a profile-only model is refused with the
    # on-demand-throughput error, an unknown id with "The provided model identifier is invalid."
    resolved = catalog.resolve(unquote(model), region)
    rules = resolved.model.claude
    if not rules.messages_api:
        raise ValidationException(
            f"The model {model} is not served by the Messages API on bedrock-runtime. Call it through InvokeModel "
            "or Converse."
        )
    if version not in rules.api_versions:
        raise ValidationException(
            f"anthropic-version {version} is not supported for {model} on Amazon Bedrock; it accepts "
            f"{', '.join(rules.api_versions)}."
        )
    if version == V2026_10_21:
        check_2026_10_21(body)
    invoke = {k: v for k, v in body.items() if k not in ("model", "stream")}
    invoke["anthropic_version"] = ANTHROPIC_VERSION
    if betas := _betas(headers):
        invoke["anthropic_beta"] = betas
    conversation = parse_anthropic(orjson.dumps(invoke), resolved, streaming=stream)
    return MessagesRequest(model, stream, resolved, conversation)


def api_key_region(token: str) -> str | None:
    """The region a Bedrock API key was made for: it is `bedrock-api-key-` + base64 of a SigV4-presigned URL, whose
    credential scope names the region (docs/bedrock-models-2026.md §3, "Bearer token format")."""
    if not token.startswith("bedrock-api-key-"):
        return None
    try:
        url = base64.b64decode(token.removeprefix("bedrock-api-key-") + "==").decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    match = _CREDENTIAL.search(unquote(url))
    return match.group("region") if match else None


def _error(error: BedrockError) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": error.message}}


def error_body(error: BedrockError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """An error answered before the stream starts: status, headers (with the request id) and Anthropic's body."""
    request_id = str(uuid.uuid4())
    code = f"{error.code}:http://internal.amazon.com/coral/com.amazon.bedrock/".encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", code),
        (b"x-amzn-requestid", request_id.encode()),
        *error.extra_headers(),
    ]
    return error.status, headers, orjson.dumps(_error(error) | {"request_id": request_id})


def _sse(event: dict[str, Any]) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def sse_error(error: BedrockError) -> bytes:
    """A failure after the 200 was sent: Anthropic's `error` event, the stream's last."""
    return _sse(_error(error))


def sse_events(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Anthropic's stream events as SSE, with the `ping` Anthropic sends after the first content_block_start.

    `message_stop` loses the `amazon-bedrock-invocationMetrics` InvokeModelWithResponseStream adds to it: that is
    Bedrock's wrapping of InvokeModel's stream, and this route streams Anthropic's events as Anthropic does."""
    pinged = False
    for event in events:
        if event["type"] == "message_stop":
            event = {"type": "message_stop"}
        elif event["type"] == "message_delta" and not pinged:  # a reply without content blocks
            yield _sse({"type": "ping"})
            pinged = True
        yield _sse(event)
        if event["type"] == "content_block_start" and not pinged:
            yield _sse({"type": "ping"})
            pinged = True
