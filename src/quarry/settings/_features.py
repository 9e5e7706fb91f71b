"""Settings of the features around the gateway: the emulator, knowledge bases and their embeddings, images,
CORS, the toolbox, the Responses API and tracing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

__all__ = [
    "CorsSettings",
    "EmbeddingSettings",
    "EmulatorSettings",
    "ImageSettings",
    "KnowledgeSettings",
    "ResponsesSettings",
    "TracingSettings",
    "UISettings",
]


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
