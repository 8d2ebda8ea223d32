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
