"""SigV4 verification for the Bedrock routes: a request signed with an AWS credential Quarry issued for a team key
(`Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`) is the team key's.

The signature is recomputed with botocore's own signer (`SigV4Auth`'s canonical request, string to sign and
signature) over an `AWSRequest` rebuilt from what arrived: the method, the raw path and query as sent, the headers the
client says it signed, and the body — or `UNSIGNED-PAYLOAD` or the hash in `x-amz-content-sha256` when the client
declared one, which must then be the body's. The credential scope must name the service `bedrock` (bedrock-runtime's
signing name, as for the control plane) in any region; the time must be within five minutes of Quarry's clock
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html); the signatures are
compared in constant time.

Refusals carry the names AWS answers with, which SDKs show as the exception: an unknown access key id is
`UnrecognizedClientException` ("The security token included in the request is invalid."), a signature that does not
match, or a time too far off, `InvalidSignatureException` (Bedrock's own "Signature expired: … is now earlier than …
(… - 5 min.)", https://github.com/anthropics/anthropic-sdk-go/issues/122), a header that is not a whole signature
`IncompleteSignature` (https://docs.aws.amazon.com/bedrock/latest/userguide/troubleshooting-api-error-codes.html)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import UNSIGNED_PAYLOAD, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from quarry.auth._authenticator import Authenticator, Principal
from quarry.auth._aws_credentials import AwsCredentialStore
from quarry.auth._keys import ApiKey
from quarry.errors import AuthenticationFailed

__all__ = [
    "INCOMPLETE_SIGNATURE",
    "INVALID_SIGNATURE",
    "SIGNING_SERVICE",
    "UNRECOGNIZED_CLIENT",
    "SigV4Verifier",
    "is_sigv4",
]

SIGNING_SERVICE = "bedrock"
ALGORITHM = "AWS4-HMAC-SHA256"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
INCOMPLETE_SIGNATURE = "IncompleteSignature"
MAX_SKEW = timedelta(minutes=5)
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_FIELD = re.compile(r"(\w+)=([^,\s]*)")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key "
    "and signing method. Consult the service documentation for details."
)


def is_sigv4(authorization: str | None) -> bool:
    """Whether an Authorization header is a SigV4 signature (rather than a bearer key)."""
    return authorization is not None and authorization.lstrip().startswith(ALGORITHM + " ")


class _Signer(SigV4Auth):
    """botocore's SigV4 signer, told which headers the client signed: botocore's own choice of headers to sign
    leaves some out (User-Agent, …) that another SDK may have signed."""

    def __init__(self, credentials: Credentials, region: str, signed: list[str]) -> None:
        super().__init__(credentials, SIGNING_SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or ():
                chosen[name] = value
        return chosen


def _incomplete(message: str) -> AuthenticationFailed:
    return AuthenticationFailed(message, code=INCOMPLETE_SIGNATURE)


def _fields(authorization: str) -> dict[str, str]:
    fields = dict(_FIELD.findall(authorization.strip()[len(ALGORITHM) :]))
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise _incomplete(f"Authorization header requires {', '.join(repr(m) for m in missing)} parameter(s).")
    return fields


def _signed_at(headers: HTTPHeaders, now: datetime) -> str:
    stamp = headers.get("x-amz-date")
    if not stamp:
        raise _incomplete("Authorization header requires existence of a 'X-Amz-Date' header.")
    try:
        signed = datetime.strptime(stamp, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise _incomplete(f"X-Amz-Date must be a time like 20261205T120000Z, not {stamp!r}.") from None

    def shown(moment: datetime) -> str:
        return moment.strftime(_TIMESTAMP)

    if signed < now - MAX_SKEW:
        raise AuthenticationFailed(
            f"Signature expired: {stamp} is now earlier than {shown(now - MAX_SKEW)} ({shown(now)} - 5 min.)",
            code=INVALID_SIGNATURE,
        )
    if signed > now + MAX_SKEW:
        raise AuthenticationFailed(
            f"Signature not yet current: {stamp} is still later than {shown(now + MAX_SKEW)} ({shown(now)} + 5 min.)",
            code=INVALID_SIGNATURE,
        )
    return stamp


class SigV4Verifier:
    """Verifies signed requests against the issued credentials. Lookups are trusted for `ttl_s`, as team keys'
    are, so a revoked key or a removed credential is refused within that time everywhere."""

    def __init__(self, credentials: AwsCredentialStore, authenticator: Authenticator, *, ttl_s: float = 0.5) -> None:
        self.credentials = credentials
        self._authenticator = authenticator
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, tuple[ApiKey, str] | None]] = {}

    async def _lookup(self, access_key_id: str) -> tuple[ApiKey, str] | None:
        now = time.monotonic()
        cached = self._cache.get(access_key_id)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        found = await self.credentials.find(access_key_id)
        if len(self._cache) > 10_000:  # bounded: unknown ids must not grow it for ever
            self._cache.clear()
        self._cache[access_key_id] = (now, found)
        return found

    async def verify(
        self,
        method: str,
        raw_target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> Principal:
        """The principal whose credential signed this request. `raw_target` is the path and query exactly as they
        arrived (still percent-encoded: the signature covers them so); `headers` every header as sent."""
        received = HTTPHeaders()
        for name, value in headers:
            received[name.lower()] = value
        fields = _fields(received.get("authorization", ""))
        access_key_id, _, scope = fields["Credential"].partition("/")
        date, _, rest = scope.partition("/")
        region, _, rest = rest.partition("/")
        service, _, terminal = rest.partition("/")
        if not (access_key_id and date and region and terminal == "aws4_request"):
            raise _incomplete("The Credential must be ACCESS_KEY_ID/DATE/REGION/SERVICE/aws4_request.")
        if service != SIGNING_SERVICE:
            raise AuthenticationFailed(
                f"Credential should be scoped to correct service: '{SIGNING_SERVICE}'.", code=INVALID_SIGNATURE
            )
        signed = [name.lower() for name in fields["SignedHeaders"].split(";") if name]
        if "host" not in signed:
            raise AuthenticationFailed("'Host' must be a signed header.", code=INVALID_SIGNATURE)
        stamp = _signed_at(received, now or datetime.now(UTC))
        found = await self._lookup(access_key_id)
        if found is None:
            return await self._unknown()
        key, secret = found
        credentials = Credentials(access_key_id, secret)
        expected = _signature(method, raw_target, received, signed, body, credentials, region, stamp)
        if not hmac.compare_digest(expected.encode(), fields["Signature"].encode()):  # bytes: any text compares
            raise AuthenticationFailed(_MISMATCH, code=INVALID_SIGNATURE)
        if key.revoked_at is not None:
            raise AuthenticationFailed(f"The API key `{key.prefix}…` has been revoked.", code=UNRECOGNIZED_CLIENT)
        if not key.usable(time.time()):
            raise AuthenticationFailed(f"The API key `{key.prefix}…` has expired.", code=UNRECOGNIZED_CLIENT)
        return Principal(key_id=key.id, name=key.name, key=key)

    async def _unknown(self) -> Principal:
        """An access key id Quarry did not issue: let in where Quarry lets everyone in (no key at all: a boto3 with
        someone's own AWS credentials works against a keyless local Quarry), refused elsewhere."""
        try:
            return await self._authenticator.authenticate(None)
        except AuthenticationFailed:
            raise AuthenticationFailed(
                "The security token included in the request is invalid.", code=UNRECOGNIZED_CLIENT
            ) from None


def _signature(
    method: str,
    raw_target: str,
    received: HTTPHeaders,
    signed: list[str],
    body: bytes,
    credentials: Credentials,
    region: str,
    stamp: str,
) -> str:
    declared = received.get("x-amz-content-sha256")
    computed = hashlib.sha256(body).hexdigest()
    if declared not in (None, UNSIGNED_PAYLOAD) and not hmac.compare_digest(str(declared).encode(), computed.encode()):
        raise AuthenticationFailed(
            "The provided 'x-amz-content-sha256' header does not match what was computed.", code=INVALID_SIGNATURE
        )
    request = AWSRequest(method=method, url=f"http://{received.get('host', '')}{raw_target}", data=body)
    request.headers = HTTPHeaders()
    if declared is not None:  # the payload's hash as the client declared it, signed or not (botocore reads it here)
        request.headers["x-amz-content-sha256"] = declared
    for name in signed:
        if name == "x-amz-content-sha256":
            continue
        for value in received.get_all(name) or ():
            request.headers[name] = value
    context: dict[str, Any] = request.context
    context["timestamp"] = stamp
    signer = _Signer(credentials, region, signed)
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))
