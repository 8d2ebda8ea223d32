"""Settings: command-line flags > CARGOHOLD_* environment > TOML file > defaults."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, create_model, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cargohold.settings_view import SettingsView, declared
from cargohold.supervisor import RESOLVED_ENV

_HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class _Validated(SettingsView, BaseSettings):
    """How settings are read and checked beyond their declared constraints; the fields themselves are
    SettingsView's declarations (see `Settings` below)."""

    model_config = SettingsConfigDict(env_prefix="CARGOHOLD_", extra="forbid")

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected HOST:PORT, got {value!r}")
        return value

    @field_validator("outbound_allow", mode="before", check_fields=False)
    @classmethod
    def _split_allow(cls, value: Any) -> Any:
        """A comma-separated string (the environment) or a list (TOML); each a CIDR, address or host name."""
        entries = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        for entry in entries if isinstance(entries, list) else ():
            try:
                ipaddress.ip_network(str(entry), strict=False)
            except ValueError:
                if not _HOST_NAME.match(str(entry)):
                    raise ValueError(f"outbound_allow: {entry!r} is not a CIDR, an address or a host name") from None
        return entries

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



def _field_type(kind: Any) -> Any:
    """Lists are read from the environment comma-separated (their validator splits them), not as JSON."""
    return Annotated[kind, NoDecode] if getattr(kind, "__origin__", None) is list else kind


if TYPE_CHECKING:
    Settings = _Validated  # mypy reads the settings' types from SettingsView
else:
    Settings = create_model(
        "Settings", __base__=_Validated, __module__=__name__,
        **{name: (_field_type(kind), Field(spec.default, description=spec.description or None, **spec.constraints))
           for name, (kind, spec) in declared().items()})


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings for `serve`: flags (non-None overrides) over environment over the TOML file."""
    if config_file is not None:
        if not config_file.is_file():
            raise ValueError(f"config file {config_file} does not exist")
        os.environ["CARGOHOLD_CONFIG"] = str(config_file)
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def export_for_workers(settings: Settings) -> None:
    os.environ[RESOLVED_ENV] = settings.model_dump_json()
