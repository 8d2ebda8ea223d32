"""Plain records the metadata store returns; no SQL types leak past the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Registry:
    id: int
    name: str
    login_server: str


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    digest: str
    media_type: str
    size: int
    content: bytes
    # readEnabled of the repository, of the tag the manifest was asked for by (True by digest), of the manifest
    repository_read: bool = True
    tag_read: bool = True
    manifest_read: bool = True


@dataclass(frozen=True, slots=True)
class ReferrerRecord:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    annotations: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class UploadRecord:
    id: str
    registry_id: int
    repository: str
    size: int
    hash_algorithm: str
    hash_state: bytes | None
    created_at: datetime
    updated_at: datetime
    owner: str | None = None  # the identity that started it ("kind:name")


@dataclass(frozen=True, slots=True)
class NewManifest:
    """What the manifest service hands the store to write in one transaction."""

    digest: str
    media_type: str
    artifact_type: str | None
    subject_digest: str | None
    annotations: dict[str, str] | None
    content: bytes
    blobs: tuple[str, ...]
    manifests: tuple[str, ...]


# --- identity and access ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    registry_id: int
    admin_enabled: bool
    anonymous_pull_enabled: bool
    sku: str
    limit_overrides: dict[str, int] | None = None  # per-registry overrides of the SKU's limits
    storage_quota_bytes: int | None = None  # hard quota; None = none
    storage_used_bytes: int = 0  # bytes of the registry's distinct blobs
    retention_enabled: bool = False
    retention_days: int = 7


@dataclass(frozen=True, slots=True)
class Attributes:
    """ACR's changeable attributes of a repository, a tag or a manifest."""

    write_enabled: bool = True
    delete_enabled: bool = True
    read_enabled: bool = True
    list_enabled: bool = True


@dataclass(frozen=True, slots=True)
class TagImmutabilityRule:
    id: str
    registry_id: int
    repository: str  # "" = every repository, a name, or "prefix/*"
    pattern: str  # a regular expression matched against the whole tag
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Identity:
    id: str
    registry_id: int
    kind: str  # user | service_principal | workload | admin | token
    name: str
    description: str
    enabled: bool
    scope_map_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Credential:
    identity_id: str
    name: str
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class FederatedCredential:
    identity_id: str
    name: str
    issuer: str
    subject: str
    audience: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    id: str
    registry_id: int
    identity_id: str
    role: str
    scope: str  # "" for the whole registry, else a repository name or "prefix/*"
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ScopeMap:
    id: str
    registry_id: int
    name: str
    description: str
    system: bool
    rules: tuple[tuple[str, str], ...]  # (repository pattern, action)
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LoginEvent:
    registry_id: int
    at: datetime
    identity: str
    identity_kind: str | None
    method: str
    source: str
    outcome: str  # success | failure
    reason: str = ""


# --- rows a unit of work reads (locked) for core to apply its rules --------------------------


@dataclass(frozen=True, slots=True)
class TagRule:
    """A write-once tag rule as the checks need it: its id, scope and pattern (core/tag_rules.py)."""

    id: str
    repository: str
    pattern: str


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    """A repository row read inside a write transaction (and locked until it ends)."""

    id: int
    name: str
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class TagRow:
    name: str
    digest: str
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class ManifestRow:
    digest: str
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class DueFacts:
    """What the retention rule (core/retention.is_due) decides on, for one manifest."""

    write_enabled: bool
    delete_enabled: bool
    updated_at: datetime
    repository_updated_at: datetime
    tagged: bool  # a tag of its repository names it
    referenced: bool  # another manifest of its repository lists it
    subject_alive: bool  # it refers to a subject that still exists in its repository


@dataclass(frozen=True, slots=True)
class DueManifest:
    repository_id: int
    repository: str
    digest: str
