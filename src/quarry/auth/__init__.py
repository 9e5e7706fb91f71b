"""Who is calling and what they may do: API keys (bootstrap and team keys), rate limits, usage records."""

from quarry.auth._authenticator import (
    Authenticator,
    KeyAuthenticator,
    OpenAccess,
    Principal,
    StaticKey,
    bearer_token,
)
from quarry.auth._keys import ApiKey, KeyStore, Limits, hash_key
from quarry.auth._limits import Grant, InProcessLimiter, Limiter
from quarry.auth._redis_limits import RedisLimiter
from quarry.auth._toolbox_credentials import ToolboxCredentials, toolbox_credentials

__all__ = [
    "ApiKey",
    "Authenticator",
    "Grant",
    "InProcessLimiter",
    "KeyAuthenticator",
    "KeyStore",
    "Limiter",
    "Limits",
    "OpenAccess",
    "Principal",
    "RedisLimiter",
    "StaticKey",
    "ToolboxCredentials",
    "bearer_token",
    "hash_key",
    "toolbox_credentials",
]
