"""Who is calling and what they may do: API keys (bootstrap and team keys), rate limits, budgets, usage records."""

from quarry.auth._access import (
    KB_PREFIX,
    Owned,
    check_change,
    check_knowledge_base,
    check_read,
    knowledge_base_model,
    may_change,
    may_read,
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
from quarry.auth._aws_credentials import ACCESS_KEY_PREFIX, SERVER_KEY_PURPOSE, AwsCredential, AwsCredentialStore
from quarry.auth._bootstrap import bootstrap_key
from quarry.auth._budgeter import TEAM, Budgeter, Reservation
from quarry.auth._budgets import (
    BUDGET_NAMES,
    Budget,
    BudgetStore,
    iso,
    parse_budgets,
    spent_since,
    team_spent_since,
    window,
)
from quarry.auth._data_dir_secret import data_dir_secret
from quarry.auth._grantees import ADMIN, EVERYONE, is_admin, owner_of, parse_grantee, parse_owner, shown_owner
from quarry.auth._key_guardrails import KeyGuardrails
from quarry.auth._keys import MAX_LIMIT, ApiKey, KeyStore, Limits, check_team, hash_key
from quarry.auth._ledger import BudgetState, Charge, InProcessLedger, SpendLedger
from quarry.auth._limits import Grant, InProcessLimiter, Limiter
from quarry.auth._open_ledger import open_ledger
from quarry.auth._postgres_ledger import PostgresLedger
from quarry.auth._redis_ledger import RedisLedger
from quarry.auth._redis_limits import RedisLimiter
from quarry.auth._server_key import SERVER_KEY_FILE, server_key, server_secret
from quarry.auth._sigv4 import (
    INCOMPLETE_SIGNATURE,
    INVALID_SIGNATURE,
    SIGNING_SERVICE,
    UNRECOGNIZED_CLIENT,
    SigV4Verifier,
    is_sigv4,
)
from quarry.auth._toolbox_credentials import ToolboxCredentials, toolbox_credentials
from quarry.auth._usage import UsageRecorder, usage_report
from quarry.auth._usage_series import usage_series

__all__ = [
    "ACCESS_KEY_PREFIX",
    "ADMIN",
    "BUDGET_NAMES",
    "EVERYONE",
    "INCOMPLETE_SIGNATURE",
    "INVALID_SIGNATURE",
    "KB_PREFIX",
    "MAX_LIMIT",
    "SERVER_KEY_FILE",
    "SERVER_KEY_PURPOSE",
    "SIGNING_SERVICE",
    "TEAM",
    "UNRECOGNIZED_CLIENT",
    "ApiKey",
    "Authenticator",
    "AwsCredential",
    "AwsCredentialStore",
    "Budget",
    "BudgetState",
    "BudgetStore",
    "Budgeter",
    "Charge",
    "Grant",
    "InProcessLedger",
    "InProcessLimiter",
    "KeyAuthenticator",
    "KeyGuardrails",
    "KeyStore",
    "Limiter",
    "Limits",
    "OpenAccess",
    "Owned",
    "PostgresLedger",
    "Principal",
    "RedisLedger",
    "RedisLimiter",
    "Reservation",
    "SigV4Verifier",
    "SpendLedger",
    "StaticKey",
    "ToolboxCredentials",
    "UsageRecorder",
    "bearer_token",
    "bootstrap_key",
    "check_change",
    "check_knowledge_base",
    "check_read",
    "check_team",
    "data_dir_secret",
    "hash_key",
    "is_admin",
    "is_sigv4",
    "iso",
    "knowledge_base_model",
    "may_change",
    "may_read",
    "may_use_knowledge_base",
    "may_use_model",
    "open_ledger",
    "owner_of",
    "parse_budgets",
    "parse_grantee",
    "parse_owner",
    "server_key",
    "server_secret",
    "shown_owner",
    "spent_since",
    "team_spent_since",
    "toolbox_credentials",
    "usage_report",
    "usage_series",
    "window",
]
