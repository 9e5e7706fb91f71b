"""The schema, as an ordered list of steps; a step once released is never edited, only followed by another.
Times are epoch seconds (REAL / DOUBLE PRECISION), and usage rows carry their UTC day number, so that both
databases store and group them the same way."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

_CONVERSATIONS = [
    """CREATE TABLE conversations (
        id TEXT PRIMARY KEY, principal TEXT NOT NULL, user_id TEXT NOT NULL, updated_at BIGINT NOT NULL,
        version INTEGER NOT NULL, body TEXT NOT NULL)""",
    "CREATE INDEX conversations_owner ON conversations (principal, user_id, updated_at DESC)",
    """CREATE TABLE user_settings (
        principal TEXT NOT NULL, user_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (principal, user_id))""",
]

# The knowledge bases' register and documents in PostgreSQL (the chunk and postings tables, one per knowledge base,
# are made by quarry.kb when one is created; the pgvector extension too, which a database that keeps no knowledge
# base need not have). IF NOT EXISTS: before this step quarry.kb made these tables itself. In SQLite each knowledge
# base is a file of its own under the data dir's kb/ (quarry.kb's _sqlite_store), so quarry.db holds none of them.
_KNOWLEDGE_BASES = [
    "CREATE SCHEMA IF NOT EXISTS quarry_kb",  # the chunk tables, laid out as Bedrock Knowledge Bases asks
    "CREATE SCHEMA IF NOT EXISTS quarry_kb_terms",  # the keyword postings, a table per knowledge base
    """CREATE TABLE IF NOT EXISTS quarry_knowledge_bases (
        name text PRIMARY KEY, config jsonb NOT NULL, created_at double precision NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS quarry_kb_documents (
        kb text NOT NULL REFERENCES quarry_knowledge_bases (name) ON DELETE CASCADE, id text NOT NULL,
        source text NOT NULL, name text NOT NULL, content_hash text NOT NULL, media_type text NOT NULL,
        chunks integer NOT NULL, pages integer, title text, tags text[] NOT NULL, metadata jsonb NOT NULL,
        added_at double precision NOT NULL, rows_stored integer NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (kb, id))""",
]

# Knowledge bases have owners: NULL is the admin, so every knowledge base made before this step is the admin's.
# SQLite keeps no register here (each knowledge base's file holds its own ownership, the admin's when it has none).
_KNOWLEDGE_BASE_OWNERS = [
    "ALTER TABLE quarry_knowledge_bases ADD COLUMN owner text",
    "ALTER TABLE quarry_knowledge_bases ADD COLUMN shared_with jsonb NOT NULL DEFAULT '[]'",
]

# A key's budgets: `amount` USD or tokens per calendar `period` (UTC), `soft` the share that warns (NULL: the
# server's default).
_BUDGETS = [
    """CREATE TABLE key_budgets (
        key_id TEXT NOT NULL, measure TEXT NOT NULL, period TEXT NOT NULL, amount DOUBLE PRECISION NOT NULL,
        soft DOUBLE PRECISION, PRIMARY KEY (key_id, measure, period))""",
]

# Stored responses of the OpenAI Responses API (quarry.api.responses): one row per response, visible to the key that
# made it, with its `status` (a background response's moves on as it runs, its task beating `heartbeat_at` meanwhile,
# so that a response no live instance runs any more is told apart), `input_items` as GET .../input_items lists them,
# and `previous_id`, the response it continued: a chain is read back with one recursive query, and no row holds
# another's items (an agent's long chain would otherwise be stored over and over).
_RESPONSES = [
    """CREATE TABLE responses (
        id TEXT PRIMARY KEY, key_id TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
        status TEXT NOT NULL, heartbeat_at BIGINT NOT NULL, previous_id TEXT, body TEXT NOT NULL,
        input_items TEXT NOT NULL)""",
    "CREATE INDEX responses_expires ON responses (expires_at)",
    "CREATE INDEX responses_status ON responses (status)",  # background responses left unfinished by a restart
    # The sealed reasoning items of stored responses, by item id: a client that replays a stored response's output
    # (the Agents SDK does) sends reasoning items without their content, which Claude needs back on a tool turn.
    """CREATE TABLE response_reasoning (
        id TEXT PRIMARY KEY, response_id TEXT NOT NULL, key_id TEXT NOT NULL, expires_at BIGINT NOT NULL,
        sealed TEXT NOT NULL)""",
    "CREATE INDEX response_reasoning_response ON response_reasoning (response_id)",
]

# Every item of the stored responses (their output, and their input as kept), by the key and the item's id: an
# `item_reference` input item names one (the Vercel AI SDK sends the assistant's earlier items so). Input ids may be
# the client's own, so an id is unique per key only; the first item kept under an id wins.
_RESPONSE_ITEMS = [
    """CREATE TABLE response_items (
        key_id TEXT NOT NULL, id TEXT NOT NULL, response_id TEXT NOT NULL, expires_at BIGINT NOT NULL,
        item TEXT NOT NULL, PRIMARY KEY (key_id, id))""",
    "CREATE INDEX response_items_response ON response_items (response_id)",
    "CREATE INDEX response_items_expires ON response_items (expires_at)",
]

# Fewer pages for a stored response's commit to write, one per index: only unfinished responses are indexed by status
# (the start-up check looks for them, by these literal values), and an item or sealed reasoning is swept with its
# response, by response_id, its expiry being its response's (response_reasoning had no index on expires_at at all).
_RESPONSE_INDEXES = [
    "DROP INDEX responses_status",
    "CREATE INDEX responses_unfinished ON responses (status) WHERE status IN ('queued', 'in_progress')",
    "DROP INDEX response_items_expires",
]

# A key's own Bedrock guardrail (quarry.auth's KeyGuardrails), which wins over the server's `[guardrails]`.
_KEY_GUARDRAILS = [
    """CREATE TABLE key_guardrails (
        key_id TEXT PRIMARY KEY, identifier TEXT NOT NULL, version TEXT NOT NULL, trace TEXT NOT NULL,
        stream_processing_mode TEXT NOT NULL)""",
]


# OpenAI's Conversations API (quarry.api.responses): a conversation visible to the key that made it, and its items in
# the order they were added: `seq` is one sequence for every conversation, so items two responses append at once never
# collide. Each item is kept as its JSON; an item id may repeat (a client replays an item it was given).
def _response_conversations(seq: str) -> list[str]:
    return [
        """CREATE TABLE response_conversations (
            id TEXT PRIMARY KEY, key_id TEXT NOT NULL, created_at BIGINT NOT NULL, metadata TEXT NOT NULL)""",
        f"""CREATE TABLE response_conversation_items (
            seq {seq}, conversation_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL)""",
        "CREATE INDEX response_conversation_items_order ON response_conversation_items (conversation_id, seq)",
    ]


# AWS credentials issued for team keys (quarry.auth's AwsCredentialStore): the access key id, the key it signs for and
# its secret access key sealed under the server key (SigV4 needs the secret itself to verify, so no hash will do).
_AWS_CREDENTIALS = [
    """CREATE TABLE aws_credentials (
        access_key_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, sealed TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX aws_credentials_key ON aws_credentials (key_id)",
]

# Teams: a key may belong to one (by name), and a team has budgets of its own, like a key's.
_TEAMS = [
    "ALTER TABLE api_keys ADD COLUMN team TEXT",
    "CREATE INDEX api_keys_team ON api_keys (team)",
    """CREATE TABLE team_budgets (
        team TEXT NOT NULL, measure TEXT NOT NULL, period TEXT NOT NULL, amount DOUBLE PRECISION NOT NULL,
        soft DOUBLE PRECISION, PRIMARY KEY (team, measure, period))""",
]

# Budgets shared by replicas through PostgreSQL alone (quarry.auth's PostgresLedger): a row per budget window (what
# was spent) and one per call's reservation in a window, with the lease that ends it if its replica dies.
_BUDGET_LEDGER = [
    """CREATE TABLE budget_windows (
        holder TEXT NOT NULL, budget TEXT NOT NULL, start DOUBLE PRECISION NOT NULL,
        spent DOUBLE PRECISION NOT NULL, PRIMARY KEY (holder, budget, start))""",
    """CREATE TABLE budget_holds (
        hold TEXT NOT NULL, holder TEXT NOT NULL, budget TEXT NOT NULL, start DOUBLE PRECISION NOT NULL,
        amount DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (holder, budget, start, hold))""",
]

# Not the request id alone: a caller may send the same `x-request-id` twice, and each call is counted.
_USAGE_IDENTITY = "CREATE UNIQUE INDEX usage_identity ON usage (request_id, at)"

MIGRATIONS: list[dict[str, list[str]]] = [
    {  # 1: API keys and usage records
        "sqlite": [
            """CREATE TABLE api_keys (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
                models TEXT NOT NULL, rpm INTEGER, tpm INTEGER, max_concurrency INTEGER,
                expires_at REAL, created_at REAL NOT NULL, revoked_at REAL, last_used_at REAL)""",
            """CREATE TABLE usage (
                id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, day INTEGER NOT NULL, request_id TEXT NOT NULL,
                key_id TEXT,
                api TEXT NOT NULL, model TEXT, stream INTEGER NOT NULL, status INTEGER NOT NULL, error_type TEXT,
                input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cache_read_tokens INTEGER NOT NULL,
                cache_write_tokens INTEGER NOT NULL, latency_ms REAL NOT NULL, ttft_ms REAL)""",
            "CREATE INDEX usage_at ON usage (at)",
            "CREATE INDEX usage_key_at ON usage (key_id, at)",
        ],
        "postgresql": [
            """CREATE TABLE api_keys (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
                models TEXT NOT NULL, rpm INTEGER, tpm INTEGER, max_concurrency INTEGER,
                expires_at DOUBLE PRECISION, created_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION,
                last_used_at DOUBLE PRECISION)""",
            """CREATE TABLE usage (
                id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, day INTEGER NOT NULL, request_id TEXT NOT NULL,
                key_id TEXT,
                api TEXT NOT NULL, model TEXT, stream BOOLEAN NOT NULL, status INTEGER NOT NULL, error_type TEXT,
                input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cache_read_tokens INTEGER NOT NULL,
                cache_write_tokens INTEGER NOT NULL, latency_ms DOUBLE PRECISION NOT NULL,
                ttft_ms DOUBLE PRECISION)""",
            "CREATE INDEX usage_at ON usage (at)",
            "CREATE INDEX usage_key_at ON usage (key_id, at)",
        ],
    },
    {"sqlite": _CONVERSATIONS, "postgresql": _CONVERSATIONS},  # 2: the toolbox's conversations and user settings
    {"sqlite": [], "postgresql": _KNOWLEDGE_BASES},  # 3: the knowledge bases' register and documents
    {"sqlite": [], "postgresql": _KNOWLEDGE_BASE_OWNERS},  # 4: who owns each knowledge base, whom it is shared with
    {  # 5: what each call cost, in USD (NULL: the model has no price)
        "sqlite": ["ALTER TABLE usage ADD COLUMN cost_usd REAL"],
        "postgresql": ["ALTER TABLE usage ADD COLUMN cost_usd DOUBLE PRECISION"],
    },
    {"sqlite": _BUDGETS, "postgresql": _BUDGETS},  # 6: budgets per key (what is spent is summed from usage)
    {"sqlite": _RESPONSES, "postgresql": _RESPONSES},  # 7: stored responses (the OpenAI Responses API)
    {"sqlite": _KEY_GUARDRAILS, "postgresql": _KEY_GUARDRAILS},  # 8: a key's own guardrail
    {  # 9: conversations of the OpenAI Conversations API and their items
        "sqlite": _response_conversations("INTEGER PRIMARY KEY AUTOINCREMENT"),
        "postgresql": _response_conversations("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
    },
    {"sqlite": _AWS_CREDENTIALS, "postgresql": _AWS_CREDENTIALS},  # 10: AWS credentials of team keys (SigV4)
    {  # 11: a key's own fallback chain (JSON list of model names; NULL: none)
        "sqlite": ["ALTER TABLE api_keys ADD COLUMN fallbacks TEXT"],
        "postgresql": ["ALTER TABLE api_keys ADD COLUMN fallbacks TEXT"],
    },
    {"sqlite": _TEAMS, "postgresql": [*_TEAMS, *_BUDGET_LEDGER]},  # 12: teams and their budgets; budgets in PostgreSQL
    {  # 13: a usage row's identity, so that a retried write adds nothing (duplicates an earlier retry made go first)
        "sqlite": [
            "DELETE FROM usage WHERE id NOT IN (SELECT MIN(id) FROM usage GROUP BY request_id, at)",
            _USAGE_IDENTITY,
        ],
        "postgresql": [
            "DELETE FROM usage a USING usage b WHERE a.request_id = b.request_id AND a.at = b.at AND a.id > b.id",
            _USAGE_IDENTITY,
        ],
    },
    {"sqlite": _RESPONSE_ITEMS, "postgresql": _RESPONSE_ITEMS},  # 14: stored responses' items by id (item_reference)
    {  # 15: the Bedrock service tier that served each call (NULL: none asked or reported, Bedrock's default)
        "sqlite": ["ALTER TABLE usage ADD COLUMN service_tier TEXT"],
        "postgresql": ["ALTER TABLE usage ADD COLUMN service_tier TEXT"],
    },
    {"sqlite": _RESPONSE_INDEXES, "postgresql": _RESPONSE_INDEXES},  # 16: fewer indexes for a stored response
]
