"""Settings: command-line flags > CARGOHOLD_* environment > TOML file > defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cargohold.settings_view import SettingsView
from cargohold.supervisor import RESOLVED_ENV


class Settings(SettingsView, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARGOHOLD_", extra="forbid")

    listen: str = Field("127.0.0.1:5000", description="HOST:PORT to serve on")
    data_dir: Path = Field(Path("cargohold-data"), description="blobs, the SQLite database and keys live here")
    workers: int = Field(1, ge=1, le=64, description="server processes sharing the port")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in the data dir")
    registry_name: str = Field("cargohold", pattern=r"^[a-zA-Z0-9]{5,50}$",
                               description="name of the default registry created on first start")
    upload_expiry_seconds: float = Field(24 * 3600, gt=0, description="abandoned uploads are removed after this")
    job_interval_seconds: float = Field(600, gt=0, description="how often background jobs run")
    log_level: str = Field("info", pattern=r"^(critical|error|warning|info|debug)$")
    access_log: bool = False
    # Throttling (core/throttling.py): registry-wide per-minute limits; unset = the registry SKU's
    # (ACR's published ReadOps/WriteOps per minute; deletes, referrer listings and logins: ours).
    throttling_enabled: bool = Field(True, description="token buckets per registry and identity; 429 over the limit")
    throttle_reads_per_minute: int | None = Field(None, ge=1, description="pulls, HEADs, tag lists, catalog")
    throttle_writes_per_minute: int | None = Field(None, ge=1, description="uploads and manifest pushes")
    throttle_deletes_per_minute: int | None = Field(None, ge=1, description="manifest, tag and blob deletes")
    throttle_referrers_per_minute: int | None = Field(None, ge=1, description="referrer listings")
    throttle_logins_per_minute: int | None = Field(None, ge=1, description="/oauth2/token and /oauth2/exchange")
    throttle_identity_share: float = Field(0.5, gt=0, le=1,
                                           description="the part of each registry limit one identity may use")
    # A full disk (core/storage_space.py): uploads are refused while free storage is below
    # max(storage_reserve_bytes, storage_reserve_percent of its capacity), so deletes still have room.
    storage_reserve_bytes: int = Field(256 << 20, ge=0, description="free bytes kept for deletes; uploads are "
                                       "refused below max(this, storage_reserve_percent of the capacity)")
    storage_reserve_percent: float = Field(2.0, ge=0, le=50, description="free-space reserve as a percentage "
                                           "of the storage's capacity (the larger of the two applies)")
    allow_insecure_issuers: bool = Field(
        False, description="workload identity federation: also trust OIDC issuers at http://127.0.0.1 or "
        "http://localhost (tests and local development only; otherwise issuers must be https URLs)")

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected HOST:PORT, got {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get("CARGOHOLD_CONFIG")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings for `serve`: flags (non-None overrides) over environment over the TOML file."""
    if config_file is not None:
        if not config_file.is_file():
            raise ValueError(f"config file {config_file} does not exist")
        os.environ["CARGOHOLD_CONFIG"] = str(config_file)
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def export_for_workers(settings: Settings) -> None:
    os.environ[RESOLVED_ENV] = settings.model_dump_json()
