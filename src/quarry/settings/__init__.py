"""One settings object for all of Quarry: environment (`QUARRY_*`), an optional TOML file, defaults. The sections
are defined by concern in `_upstream` (Bedrock, models, resilience, guardrails, spend) and `_features` (everything
around the gateway); this module is the root object, where they are read from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from quarry.settings._features import (
    CorsSettings,
    EmbeddingSettings,
    EmulatorSettings,
    ImageSettings,
    KnowledgeSettings,
    ResponsesSettings,
    TracingSettings,
    UISettings,
)
from quarry.settings._upstream import (
    BedrockSettings,
    GuardrailSettings,
    GuardrailsSettings,
    ModelSettings,
    ResilienceSettings,
    SpendSettings,
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
    "ResponsesSettings",
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
