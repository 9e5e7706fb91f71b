"""One settings object for all of Quarry: environment (`QUARRY_*`), an optional TOML file, defaults."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["EmulatorSettings", "Settings", "config_file", "default_data_dir"]


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
