"""The resolved settings as the server uses them: plain attributes, no pydantic.

`cargohold serve` validates the settings once (config.py, pydantic-settings: flags, environment,
TOML) and hands the result to its workers as JSON; a worker reads it into this class, so the
workers never import pydantic (about 10 MiB of resident memory each) unless the management API
is used.
"""

from __future__ import annotations

import ipaddress
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from cargohold.supervisor import RESOLVED_ENV  # the supervisor stays small: it imports nothing of ours


class SettingsView:
    """Every setting (config.Settings declares the same names with their validation; a test keeps
    the two lists equal) and what is derived from them."""

    listen: str
    data_dir: Path
    workers: int
    database_url: str | None
    registry_name: str
    upload_expiry_seconds: float
    job_interval_seconds: float
    log_level: str
    access_log: bool
    throttling_enabled: bool
    throttle_reads_per_minute: int | None
    throttle_writes_per_minute: int | None
    throttle_deletes_per_minute: int | None
    throttle_referrers_per_minute: int | None
    throttle_logins_per_minute: int | None
    throttle_identity_share: float
    storage_reserve_bytes: int
    storage_reserve_percent: float
    allow_insecure_issuers: bool

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> SettingsView:
        """Settings already validated by `serve` (its JSON); unknown or missing names are an error."""
        names = set(SettingsView.__annotations__)
        if set(values) != names:
            raise ValueError(f"resolved settings do not match: {sorted(set(values) ^ names)}")
        view = cls.__new__(cls)
        view.__dict__.update(values, data_dir=Path(values["data_dir"]))
        return view

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'metadata.db').resolve()}"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "storage"

    @property
    def upload_expiry(self) -> timedelta:
        return timedelta(seconds=self.upload_expiry_seconds)

    def listens_on_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def settings_from_environment() -> SettingsView:
    """In a worker: exactly what `serve` resolved; elsewhere (tools, tests) the environment, validated."""
    raw = os.environ.get(RESOLVED_ENV)
    if raw:
        return SettingsView.from_values(json.loads(raw))
    from cargohold.config import Settings

    return Settings()
