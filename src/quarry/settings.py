"""One settings object for all of Quarry: environment (`QUARRY_*`), an optional TOML file, defaults."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "BedrockSettings",
    "CorsSettings",
    "EmbeddingSettings",
    "EmulatorSettings",
    "GuardrailSettings",
    "GuardrailsSettings",
    "ImageSettings",
    "KnowledgeSettings",
    "ModelSettings",
    "ResilienceSettings",
    "Settings",
    "SpendSettings",
    "TracingSettings",
    "UISettings",
    "config_file",
    "default_data_dir",
]


def default_data_dir() -> Path:
    """Where local state lives when `QUARRY_DATA_DIR` is not set (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "quarry"


def config_file() -> Path:
    """The TOML file read when present: `QUARRY_CONFIG`, else `./quarry.toml`."""
    return Path(os.environ.get("QUARRY_CONFIG", "quarry.toml"))


class EmulatorSettings(BaseModel):
    """Knobs of the offline Bedrock emulator (`[emulator]` in TOML, `QUARRY_EMULATOR__*` in the environment)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8181, ge=0, le=65535)
    first_byte_ms: float = Field(default=0.0, ge=0, description="Delay before the first byte of every answer.")
    tokens_per_second: float = Field(default=0.0, ge=0, description="Streaming pace; 0 streams as fast as possible.")
    fault_rate: float = Field(default=0.0, ge=0, le=1, description="Share of requests answered with a random fault.")
    seed: int = Field(default=0, description="Seed of the fault-rate dice, so a faulty run can be replayed.")
    guardrails: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Guardrails the emulator knows (`[[emulator.guardrails]]`: id, versions, denied_topics, words, "
        "pii, blocked_input_message, blocked_output_message); checked when the emulator starts.",
    )
    service_tiers: dict[str, list[Literal["priority", "default", "flex", "reserved"]]] = Field(
        default_factory=dict,
        description="Foundation-model id → the Bedrock service tiers it offers besides `default`; others are refused "
        "as Bedrock refuses them. A model not named offers priority and flex; reserved only where named.",
    )


class KnowledgeSettings(BaseModel):
    """Knowledge bases (`[kb]`, `QUARRY_KB__*`): where they are kept and how new ones are made and answered."""

    database_url: str | None = Field(
        default=None,
        description="`postgresql://…` keeps knowledge bases in PostgreSQL + pgvector; unset: PostgreSQL when "
        "QUARRY_DATABASE_URL is one, else a SQLite file per knowledge base under the data dir's `kb/` folder.",
    )
    embedding_model: str = Field(default="amazon.titan-embed-text-v2:0", description="For new knowledge bases.")
    dimensions: int = Field(default=1024, gt=0, description="Vector size for new knowledge bases.")
    chunk_tokens: int = Field(default=300, ge=20, le=8192, description="Chunk size for new knowledge bases.")
    overlap: float = Field(default=0.2, ge=0, le=0.5, description="Chunk overlap, a share of chunk_tokens.")
    answer_model: str | None = Field(default=None, description="Model that answers; unset: models.default.")
    top_k: int = Field(default=5, ge=1, le=100, description="Passages retrieved for an answer.")
    min_similarity: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="A passage with no topical keyword match is used for an answer only when its cosine similarity "
        "to the question reaches this.",
    )
    rrf_k: int = Field(
        default=10,
        ge=1,
        description="Reciprocal rank fusion's k: smaller favours the top of each list (60 in the original paper).",
    )
    keyword_weight: float = Field(
        default=2.0,
        ge=0,
        description="Weight of the keyword (BM25) list against the vector list in hybrid fusion; chosen on the "
        "evaluation set in eval/ (docs/performance.md).",
    )
    max_answer_tokens: int = Field(default=2048, gt=0)
    embed_concurrency: int = Field(default=8, ge=1, le=64, description="Embedding calls in flight during ingest.")
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0, description="Largest file accepted by upload.")
    max_upload_total_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="Largest multipart upload body (all its files and fields), counted while it is read.",
    )
    max_pdf_pages: int = Field(default=2000, ge=1, description="Pages a PDF may have.")
    max_pdf_stream_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Size one compressed stream of a PDF (a page's content, an image, a font) may inflate to; a "
        "decompression bomb is refused by it before it is parsed (pdfium needs ~13 bytes of memory per byte).",
    )
    max_text_bytes: int = Field(default=32 * 1024 * 1024, ge=1, description="Text (UTF-8) read from one PDF.")
    max_parse_s: float = Field(default=120.0, gt=0, description="Time reading one PDF may take.")
    max_pdf_memory_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=64 * 1024 * 1024,
        description="Memory reading one PDF may take (on Linux): PDFs are read in a child process whose address space "
        "is capped, since an encrypted stream cannot be measured before pdfium inflates it.",
    )


class EmbeddingSettings(BaseModel):
    """POST /v1/embeddings (`[embeddings]`, `QUARRY_EMBEDDINGS__*`)."""

    max_inputs: int = Field(
        default=2048,
        ge=1,
        description="Inputs in one request (OpenAI's own limit: an array of 1 to 2048 items); Titan embeds one "
        "input per upstream call.",
    )


class BedrockSettings(BaseModel):
    """How Quarry talks to Amazon Bedrock (`[bedrock]`, `QUARRY_BEDROCK__*`)."""

    connect_timeout_s: float = Field(default=10.0, gt=0, description="Opening a connection to Bedrock.")
    first_byte_timeout_s: float = Field(
        default=600.0, gt=0, description="Waiting for a response to start; non-streamed answers arrive whole."
    )
    idle_timeout_s: float = Field(default=120.0, gt=0, description="Longest silence between two stream events.")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Tries for throttled and 5xx answers.")
    max_connections: int = Field(default=2000, ge=1, description="Pooled connections to Bedrock.")
    models_ttl_s: float = Field(default=600.0, ge=0, description="How long the model list is cached.")


def _sdk_headers() -> list[str]:
    # What the OpenAI and Anthropic browser SDKs put on a request besides the CORS-safelisted headers; a browser
    # asks for each in its preflight and sends nothing if one is refused.
    return [
        "authorization",
        "content-type",
        "x-api-key",
        "anthropic-version",
        "anthropic-beta",
        "anthropic-dangerous-direct-browser-access",
        "openai-organization",
        "openai-project",
        "openai-beta",
        "idempotency-key",
        "x-request-id",
        "x-stainless-arch",
        "x-stainless-async",
        "x-stainless-helper",
        "x-stainless-helper-method",
        "x-stainless-lang",
        "x-stainless-os",
        "x-stainless-package-version",
        "x-stainless-raw-response",
        "x-stainless-read-timeout",
        "x-stainless-retry-count",
        "x-stainless-runtime",
        "x-stainless-runtime-version",
        "x-stainless-stream-helper",
        "x-stainless-timeout",
    ]


def _exposed_headers() -> list[str]:
    # Without these a browser hides them from the page: the SDKs read the request id and back off by the rest.
    return [
        "x-request-id",
        "retry-after",
        "retry-after-ms",
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
        "x-quarry-dropped-params",
        "x-quarry-cost-usd",  # what the call cost, and what it could have (docs: README, Spend)
        "x-quarry-cost-max-usd",
        "x-quarry-budget-remaining",
        "x-quarry-budget-warning",
        "x-quarry-budget",
        "x-quarry-budget-reset",
        "x-quarry-trace-id",  # the request's trace, when tracing is on (docs/configuration.md, "Traces")
        "x-quarry-model-used",  # the model that answered, after fallbacks (docs: README, Fallbacks)
    ]


class CorsSettings(BaseModel):
    """Which web pages may call Quarry from a browser (`[cors]`, `QUARRY_CORS__*`)."""

    allow_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call from a browser (`https://app.example.com`, or `*`); empty sends no "
        "CORS headers at all.",
    )
    allow_headers: list[str] = Field(
        default_factory=_sdk_headers, description="Request headers a browser may send (the SDKs' own by default)."
    )
    expose_headers: list[str] = Field(default_factory=_exposed_headers, description="Response headers a page may read.")
    max_age_s: int = Field(default=600, ge=0, description="How long a browser may cache a preflight answer.")


ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh", "max"]


def _default_budgets() -> dict[ReasoningEffort, int]:
    # xhigh and max: more than high; a budget past a model's output limit is fitted under it (max: all it can).
    return {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 65536}


def _family_aliases() -> dict[str, str]:
    # The newest of each family on Bedrock in December 2026 (docs/bedrock-models-2026.md §1.1); Anthropic's names
    # resolve to the region's inference profile.
    return {"opus": "claude-opus-5-5", "sonnet": "claude-sonnet-5-5", "haiku": "claude-haiku-5-5"}


def _bedrock_betas() -> list[str]:
    # The `anthropic_beta` flags Bedrock documents for Claude; it refuses the request for any other.
    return [
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "dev-full-thinking-2025-05-14",
        "effort-2025-11-24",
        "fine-grained-tool-streaming-2025-05-14",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "token-efficient-tools-2025-02-19",
        "tool-examples-2025-10-29",
        "tool-search-tool-2025-10-19",
    ]


class ModelSettings(BaseModel):
    """Which models requests land on (`[models]`, `QUARRY_MODELS__*`)."""

    default: str = Field(
        default="anthropic.claude-sonnet-5-5",
        description="Model for `gpt-*` and other OpenAI names; upgraded to the region's inference profile.",
    )
    default_embedding: str = Field(
        default="amazon.titan-embed-text-v2:0", description="Model for `text-embedding-*` names."
    )
    aliases: dict[str, str] = Field(default_factory=dict, description="Extra model names → Bedrock ids.")
    family_aliases: dict[str, str] = Field(
        default_factory=_family_aliases,
        description="`opus`, `sonnet`, `haiku` → the newest model of each family (Anthropic names or Bedrock ids); "
        "`aliases` win over these.",
    )
    prompt_cache: list[Literal["system", "tools", "messages"]] = Field(
        default_factory=list, description="Where to add cache points on models that cache prompts."
    )
    reasoning_budgets: dict[ReasoningEffort, int] = Field(
        default_factory=_default_budgets,
        description="Thinking budget tokens for each `reasoning_effort` on models that think with a budget; levels "
        "left out keep their defaults.",
    )
    strict_parameters: bool = Field(
        default=False,
        description="Refuse (400) sampling parameters a model takes only at their defaults, instead of dropping them "
        "and naming them in `x-quarry-dropped-params`.",
    )
    anthropic_betas: list[str] = Field(
        default_factory=_bedrock_betas,
        description="`anthropic-beta` flags passed on to Bedrock for Claude; other flags are dropped.",
    )
    fallbacks: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Model name (as callers ask for it, or its Bedrock id) → the models tried in order when it "
        'throttles, fails, times out or refuses a prompt over its context window (`{"opus": ["sonnet", '
        '"haiku"]}`); see `[resilience]`.',
    )

    service_tiers: dict[str, Literal["priority", "default", "flex", "reserved"]] = Field(
        default_factory=dict,
        description="Model name or Bedrock id patterns (globs, first match wins) → the Bedrock service tier asked "
        'for when the caller asks none (OpenAI\'s or Anthropic\'s `"auto"`, or no tier): `{"*": "flex"}`.',
    )

    def service_tier_for(self, *names: str) -> str | None:
        """The operator's service tier for a model known by any of these names (None: Bedrock's default)."""
        for pattern, tier in self.service_tiers.items():
            if any(fnmatch.fnmatchcase(name, pattern) for name in names if name):
                return tier
        return None

    @field_validator("reasoning_budgets")
    @classmethod
    def _budgets_for_every_level(cls, budgets: dict[ReasoningEffort, int]) -> dict[ReasoningEffort, int]:
        return {**_default_budgets(), **budgets}

    def all_aliases(self) -> dict[str, str]:
        """Every extra model name: the family aliases, then the configured ones (an empty target drops a name)."""
        return {name: target for name, target in {**self.family_aliases, **self.aliases}.items() if target}


class GuardrailSettings(BaseModel):
    """One Amazon Bedrock guardrail, as Converse's `guardrailConfig` names it (GuardrailStreamConfiguration)."""

    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(
        pattern=r"^([a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)$",
        description="The guardrail's id or ARN.",
    )
    version: str = Field(default="DRAFT", pattern=r"^(DRAFT|[1-9][0-9]{0,7})$", description="DRAFT or a number.")
    trace: Literal["enabled", "disabled", "enabled_full"] = Field(
        default="disabled", description="Whether Bedrock's answers carry the guardrail's trace."
    )
    stream_processing_mode: Literal["sync", "async"] = Field(
        default="sync",
        description="Streams: judge each chunk before it is sent (sync), or send at once and judge alongside (async; "
        "no masking).",
    )


class GuardrailsSettings(BaseModel):
    """Bedrock guardrails applied to every call (`[guardrails]`, `QUARRY_GUARDRAILS__*`); a key's own guardrail
    (`quarry keys create --guardrail`) wins over these."""

    default: GuardrailSettings | None = Field(default=None, description="The guardrail of every model not in `models`.")
    models: dict[str, GuardrailSettings] = Field(
        default_factory=dict,
        description="Model name or Bedrock id patterns (globs, first match wins) → the guardrail for those models.",
    )

    def for_model(self, *names: str) -> GuardrailSettings | None:
        """The guardrail for a model known by any of these names (requested name, Bedrock id, base id)."""
        for pattern, guardrail in self.models.items():
            if any(fnmatch.fnmatchcase(name, pattern) for name in names if name):
                return guardrail
        return self.default


class ImageSettings(BaseModel):
    """Fetching `image_url` http(s) images (`[images]`, `QUARRY_IMAGES__*`)."""

    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0, description="Largest single image (URL or data: URL).")
    max_per_request: int = Field(
        default=20,
        ge=1,
        description="Images by URL (data: URLs included) in one request; Converse takes at most 20 images per request.",
    )
    max_total_bytes: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description="Bytes of all the images fetched for one request; fetching stops once they pass it.",
    )
    fetch_concurrency: int = Field(default=4, ge=1, le=64, description="Image URLs of one request fetched at once.")
    timeout_s: float = Field(default=10.0, gt=0)
    max_redirects: int = Field(default=3, ge=0)
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts, addresses or CIDRs fetched even though private (intranets, tests); empty is safest.",
    )


class UISettings(BaseModel):
    """The toolbox web UI at /ui (`[ui]`, `QUARRY_UI__*`)."""

    enabled: bool = Field(default=True, description="Mount the toolbox at /ui when the `ui` extra is installed.")
    users: dict[str, str] = Field(
        default_factory=dict,
        description="Sign-in users: name → password hash from `quarry ui hash-password` (pbkdf2_sha256).",
    )
    login_failures: int = Field(
        default=5, ge=1, description="Failed sign-ins for one user name before it is locked out for a while."
    )
    login_failures_per_address: int = Field(
        default=20, ge=1, description="Failed sign-ins from one client address before it is locked out for a while."
    )
    login_lockout_s: float = Field(
        default=30.0, gt=0, description="The first lockout; each further failure doubles it (at most an hour)."
    )
    trusted_header: str | None = Field(
        default=None, description="Header naming the signed-in user, set by a proxy in front (e.g. an ALB's OIDC)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Addresses or CIDRs whose `trusted_header` is believed.",
    )
    api_url: str | None = Field(
        default=None,
        description="The Quarry the toolbox calls (and sends its users' credentials to); unset: the server it is "
        "mounted on. Set by the operator only: users cannot change it.",
    )
    credential_secret: SecretStr | None = Field(
        default=None,
        description="Secret the per-user credentials of signed-in toolbox users are derived with; the toolbox and "
        "the Quarry it calls must share it. Unset: a random one kept in the data dir (`toolbox-credential.key`).",
    )
    api_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="How long the toolbox waits for the API: to connect (at most 10 s) and between two pieces of "
        "an answer (streams send a keep-alive every `keepalive_s`), before it says the API is not answering.",
    )
    compress_after_tokens: int = Field(
        default=8000, ge=200, description="Chat history size past which older turns are summarised into a memory."
    )
    keep_recent_messages: int = Field(default=6, ge=2, description="Messages kept verbatim when compressing.")
    split_tokens: int = Field(
        default=24000, ge=100, description="Longest input sent in one call by Translate, Rewrite and Summary."
    )


class SpendSettings(BaseModel):
    """What calls cost and how budgets behave (`[spend]`, `QUARRY_SPEND__*`)."""

    prices_file: Path | None = Field(
        default=None,
        description="A JSON file of prices (the shipped `prices.json`'s shape) merged over the shipped table, whole "
        "model entries replaced; nothing is fetched over the network.",
    )
    soft_threshold: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a budget after which answers carry a warning header, a metric and a log line (a "
        "budget's own `soft` overrides it).",
    )


class ResilienceSettings(BaseModel):
    """Retries, failover and circuit breaking for Bedrock calls (`[resilience]`, `QUARRY_RESILIENCE__*`); the
    fallback chains themselves are `models.fallbacks`."""

    global_failover: bool = Field(
        default=False,
        description="A geographic inference profile (`us.`, `eu.`, `apac.`, …) that throttles or fails moves to the "
        "`global.` profile of the same model (which may serve the request from any commercial region).",
    )
    deadline_s: float = Field(
        default=600.0,
        gt=0,
        description="Time a call may spend on retries and fallbacks before its last error is answered; a client's "
        "own timeout (the SDKs' `x-stainless-timeout`) shortens it.",
    )
    backoff_base_s: float = Field(default=0.2, gt=0, description="First retry's backoff ceiling (full jitter).")
    backoff_cap_s: float = Field(default=5.0, gt=0, description="Largest backoff between two tries.")
    max_retry_after_s: float = Field(
        default=30.0,
        ge=0,
        description="Longest `Retry-After` an upstream answer is waited for; a longer one ends the retries at once "
        "(to the next fallback).",
    )
    breaker_failures: int = Field(
        default=5,
        ge=1,
        description="Consecutive failed calls (throttled, 5xx, timed out) to one model in one region that open its "
        "circuit: it is skipped, or refused with a 503, until the cool-down ends.",
    )
    breaker_cooldown_s: float = Field(
        default=30.0, gt=0, description="How long an open circuit stays open before one probe call may try it."
    )


class ResponsesSettings(BaseModel):
    """The OpenAI Responses API, /v1/responses (`[responses]`, `QUARRY_RESPONSES__*`)."""

    store_ttl_s: int = Field(
        default=30 * 24 * 3600,
        ge=60,
        description="How long stored responses (`store: true`, the default) and their input items are kept; OpenAI "
        "keeps them 30 days.",
    )
    strict_tools: bool = Field(
        default=False,
        description="Refuse (400, naming the tool) built-in tools Quarry cannot run, such as `web_search`, instead of "
        "leaving them out of the model's tools and naming them in the `x-quarry-ignored-tools` header.",
    )


class TracingSettings(BaseModel):
    """OpenTelemetry traces (GenAI semantic conventions) over OTLP/HTTP; off while `otlp_endpoint` is unset."""

    otlp_endpoint: str | None = Field(
        default=None,
        description="The collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces` (needs the `otel` "
        "extra). Unset: no traces, no cost.",
    )
    service_name: str = Field(default="quarry", min_length=1, description="The traces' `service.name`.")
    sample_ratio: float = Field(
        default=1.0, ge=0, le=1, description="Share of new traces kept; a caller's sampled `traceparent` is followed."
    )
    content: bool = Field(
        default=False,
        description="Put the messages sent to Bedrock in upstream spans (`gen_ai.input.messages`); off: spans carry "
        "no prompt or answer text.",
    )
    export_delay_ms: int = Field(default=5000, ge=1, description="How long finished spans wait to be sent in a batch.")


class Settings(BaseSettings):
    """Everything configurable in Quarry. Precedence: init arguments, environment, TOML file, defaults."""

    model_config = SettingsConfigDict(
        env_prefix="QUARRY_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    region: str = Field(default="us-east-1", description="AWS region used when none comes from the AWS config.")
    emulator: EmulatorSettings = Field(default_factory=EmulatorSettings)

    host: str = Field(default="127.0.0.1", description="Interface `quarry serve` binds.")
    port: int = Field(default=8080, ge=0, le=65535)
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="`Host` names Quarry answers to besides loopback's (`quarry.example.com`, `*.example.com`, "
        "`name:port`; `*`: any). Empty: loopback names only on a loopback bind, any host on other binds.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Bootstrap (admin) API key; team keys are made with `quarry keys create`."
    )
    api_key_secret_id: str | None = Field(
        default=None, description="Secrets Manager secret holding the bootstrap key, read at start-up."
    )
    api_key_ssm_parameter: str | None = Field(
        default=None, description="SSM Parameter Store (SecureString) name holding the bootstrap key, read at start-up."
    )
    database_url: str | None = Field(
        default=None, description="`postgresql://…` for many instances; unset: SQLite in the data dir."
    )
    server_key: SecretStr | None = Field(
        default=None,
        description="The key Quarry encrypts stored secrets under (the secret keys of AWS credentials issued for team "
        "keys). Replicas sharing a database must all set the same one; unset: a random one kept in the data dir "
        "(`server.key`).",
    )
    redis_url: str | None = Field(default=None, description="`redis://…` shares rate limits between instances.")
    key_cache_ttl_s: float = Field(
        default=0.5, ge=0, description="How long a key lookup is trusted; a revoked key is refused after this."
    )
    usage_flush_s: float = Field(default=1.0, gt=0, description="How often usage records are written, in batches.")
    usage_durable: bool | None = Field(
        default=None,
        description="Each answer's last bytes wait for its usage row's commit (a group commit shared by concurrent "
        "calls), so a killed process loses no usage of answered calls. Unset: on with PostgreSQL, off with SQLite.",
    )
    backend: Literal["auto", "bedrock", "emulator"] = Field(
        default="auto", description="auto: Bedrock when AWS credentials exist, else the in-process emulator."
    )
    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0, description="Largest request body accepted.")
    keepalive_s: float = Field(default=15.0, gt=0, description="SSE comment interval during long silences.")
    http_keep_alive_s: float = Field(
        default=5.0,
        gt=0,
        description="How long an idle client connection stays open; behind a load balancer, longer than its idle "
        "timeout (an ALB's is 60 s).",
    )
    http_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="How long a client may take to send a request head, from connecting (or from the first byte of "
        "the next request on a kept-alive connection); then a 408 and the connection is closed.",
    )
    http_body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Longest silence inside a request body (not its total time); then a 408 and the connection is "
        "closed. Responses and streams are never cut by it.",
    )
    max_connections: int = Field(
        default=4096,
        ge=1,
        description="Open client connections, idle kept-alive ones included; past it a new connection is answered "
        "503 and closed. Keep it under the process's open-file limit (`ulimit -n`).",
    )
    shutdown_grace_s: float = Field(
        default=30.0, ge=0, description="On SIGTERM or Ctrl-C, how long requests and streams in flight may finish."
    )
    access_log: bool = Field(default=True, description="One JSON line per request on stderr (`quarry.access`).")
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics to anyone; otherwise only to loopback clients and callers with an API key.",
    )
    cors: CorsSettings = Field(default_factory=CorsSettings)
    bedrock: BedrockSettings = Field(default_factory=BedrockSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    images: ImageSettings = Field(default_factory=ImageSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    ui: UISettings = Field(default_factory=UISettings)
    kb: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    spend: SpendSettings = Field(default_factory=SpendSettings)
    responses: ResponsesSettings = Field(default_factory=ResponsesSettings)
    guardrails: GuardrailsSettings = Field(default_factory=GuardrailsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: list[str]) -> list[str]:
        # A URL or a path here is a common slip, and would never match a `Host` header.
        for host in hosts:
            if not host.strip() or any(mark in host for mark in ("/", " ", "@", "?", "#")):
                raise ValueError(f"{host!r} is not a host name: give `quarry.example.com`, `name:port` or `*`")
        return hosts

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML path is looked up per instantiation, so QUARRY_CONFIG set at run time is honoured.
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return init_settings, env_settings, toml, file_secret_settings
