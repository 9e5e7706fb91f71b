"""Who is calling and what they may do: API keys (bootstrap and team keys), rate limits, usage records."""

from quarry.auth._access import (
    KB_PREFIX,
    check_knowledge_base,
    knowledge_base_model,
    may_use_knowledge_base,
    may_use_model,
)
from quarry.auth._authenticator import (
    Authenticator,
    KeyAuthenticator,
    OpenAccess,
    Principal,
    StaticKey,
    bearer_token,
)
from quarry.auth._bootstrap import bootstrap_key
from quarry.auth._keys import MAX_LIMIT, ApiKey, KeyStore, Limits, hash_key
from quarry.auth._limits import Grant, InProcessLimiter, Limiter
from quarry.auth._redis_limits import RedisLimiter
from quarry.auth._toolbox_credentials import ToolboxCredentials, toolbox_credentials
from quarry.auth._usage import UsageRecorder, usage_report

__all__ = [
    "KB_PREFIX",
    "MAX_LIMIT",
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
    "UsageRecorder",
    "bearer_token",
    "bootstrap_key",
    "check_knowledge_base",
    "hash_key",
    "knowledge_base_model",
    "may_use_knowledge_base",
    "may_use_model",
    "toolbox_credentials",
    "usage_report",
]
