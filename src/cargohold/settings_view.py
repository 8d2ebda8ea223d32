"""Every setting, declared once, and the resolved settings as the server uses them: no pydantic.

Each setting is one line of `SettingsView`: its name, its type, and `setting(default, description,
**constraints)` (pydantic's Field constraints: ge, le, gt, pattern). config.py derives the validating
pydantic model from these lines; `cargohold serve` validates once (flags, environment, TOML) and hands
the result to its workers as JSON, which a worker reads into this class, so the workers never import
pydantic (about 10 MiB of resident memory each) unless the management API is used.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, get_args, get_type_hints


@dataclass(frozen=True, slots=True)
class Setting:
    """A setting's default, its description (--help, the JSON schema) and its constraints."""

    default: Any
    description: str = ""
    constraints: dict[str, Any] = field(default_factory=dict)


def setting(default: Any, description: str = "", **constraints: Any) -> Setting:
    """`constraints` are pydantic.Field keywords (ge, le, gt, pattern, …), passed on as they are."""
    return Setting(default, description, constraints)


class SettingsView:
    """Every setting (add one with one line here) and what is derived from them."""

    listen: Annotated[str, setting("127.0.0.1:5000", "HOST:PORT to serve on")]
    data_dir: Annotated[Path, setting(Path("cargohold-data"), "blobs, the SQLite database and keys live here")]
    workers: Annotated[int, setting(1, "server processes sharing the port", ge=1, le=64)]
    database_url: Annotated[str | None, setting(None, "SQLAlchemy URL; default SQLite in the data dir")]
    registry_name: Annotated[str, setting("cargohold", "name of the default registry created on first start",
                                          pattern=r"^[a-zA-Z0-9]{5,50}$")]
    upload_expiry_seconds: Annotated[float, setting(24 * 3600, "abandoned uploads are removed after this", gt=0)]
    job_interval_seconds: Annotated[float, setting(600, "how often background jobs run", gt=0)]
    log_level: Annotated[str, setting("info", pattern=r"^(critical|error|warning|info|debug)$")]
    access_log: Annotated[bool, setting(False)]
    # Throttling (core/throttling.py): registry-wide per-minute limits; unset = the registry SKU's
    # (ACR's published ReadOps/WriteOps per minute; deletes, referrer listings and logins: ours).
    throttling_enabled: Annotated[bool, setting(True, "token buckets per registry and identity; 429 over the limit")]
    throttle_reads_per_minute: Annotated[int | None, setting(None, "pulls, HEADs, tag lists, catalog", ge=1)]
    throttle_writes_per_minute: Annotated[int | None, setting(None, "uploads and manifest pushes", ge=1)]
    throttle_deletes_per_minute: Annotated[int | None, setting(None, "manifest, tag and blob deletes", ge=1)]
    throttle_referrers_per_minute: Annotated[int | None, setting(None, "referrer listings", ge=1)]
    throttle_logins_per_minute: Annotated[int | None, setting(None, "/oauth2/token and /oauth2/exchange", ge=1)]
    throttle_identity_share: Annotated[float, setting(0.5, "the part of each registry limit one identity may use",
                                                      gt=0, le=1)]
    allow_insecure_issuers: Annotated[bool, setting(
        False, "workload identity federation: also trust OIDC issuers at http://127.0.0.1 or http://localhost "
        "(tests and local development only; otherwise issuers must be https URLs)")]
    # Slow clients (runtime/slow_clients.py) and open uploads (core/upload_caps.py).
    header_timeout_seconds: Annotated[float, setting(20, "a request head must arrive within this (0: no limit)", ge=0)]
    body_idle_timeout_seconds: Annotated[float, setting(
        60, "a request body may pause this long between bytes; then 408 and the connection is closed (0: no limit)",
        ge=0)]
    max_connections_per_worker: Annotated[int, setting(
        1000, "open connections per worker; beyond it the connection slowest to send its request head is closed",
        ge=1)]
    max_open_uploads_per_repository: Annotated[int, setting(
        1000, "open upload sessions in one repository; beyond it a new upload is DENIED", ge=1)]
    max_open_uploads_per_identity: Annotated[int, setting(
        1000, "open upload sessions one identity may hold in a registry; beyond it a new upload is DENIED", ge=1)]
    # Failed-login limiting (core/login_limits.py): wrong passwords per source address and per
    # (identity, source) in a sliding window, then 429 with Retry-After; never per identity alone.
    login_limits_enabled: Annotated[bool, setting(True, "limit failed logins per source and per identity+source")]
    login_failures_per_identity_source: Annotated[int, setting(
        10, "failed logins of one name from one address in the window before 429", ge=1)]
    login_failures_per_source: Annotated[int, setting(
        30, "failed logins of any names from one address in the window before 429", ge=1)]
    login_failure_window_seconds: Annotated[float, setting(900, "the sliding window of those limits", gt=0)]
    # Free space (core/storage_space.py): uploads are refused while the storage has less than
    # max(storage_reserve_bytes, storage_reserve_percent of its capacity) free, so deletes still have room.
    storage_reserve_bytes: Annotated[int, setting(
        256 << 20, "free bytes kept for deletes; uploads are refused below max(this, storage_reserve_percent of "
        "the capacity)", ge=0)]
    storage_reserve_percent: Annotated[float, setting(
        2.0, "free-space reserve as a percentage of the storage's capacity (the larger of the two applies)",
        ge=0, le=50)]
    outbound_allow: Annotated[list[str], setting(
        [], "outbound HTTP (import sources, OIDC issuers) may reach these otherwise refused destinations: CIDRs, "
        "addresses or host names, comma-separated (loopback, link-local, private, shared and metadata addresses "
        "are refused by default; a metadata address only by naming it exactly)")]

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> SettingsView:
        """Settings already validated by `serve` (its JSON); unknown or missing names are an error."""
        names = set(SettingsView.__annotations__)
        if set(values) != names:
            raise ValueError(f"resolved settings do not match: {sorted(set(values) ^ names)}")
        view = cls.__new__(cls)
        view.__dict__.update(values)
        view.__dict__.update({name: Path(values[name]) for name, (kind, _) in declared().items() if kind is Path})
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



@functools.cache
def declared() -> dict[str, tuple[Any, Setting]]:
    """Each setting's name → (its type, its Setting), in declaration order (config.py builds on this)."""
    hints = get_type_hints(SettingsView, include_extras=True)
    return {name: (get_args(hints[name])[0], get_args(hints[name])[1]) for name in SettingsView.__annotations__}
