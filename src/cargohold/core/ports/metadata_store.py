"""The MetadataStore protocol: everything the core asks of the metadata database.

Changes guarded by a rule (pushes, deletes, the blob commit under the hard quota) are units of work:
core opens `transaction()` / `blob_transaction()` and applies the rule between reads and writes
(core/ports/transactions.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from cargohold.core.ports.records import (
    Attributes,
    ManifestRecord,
    ReferrerRecord,
    Registry,
    UploadRecord,
)
from cargohold.core.ports.transactions import BlobTransaction, ManifestTransaction


class MetadataStore(Protocol):
    # registries
    def ensure_registry(self, name: str, login_server: str) -> Registry: ...
    def get_registry(self, name: str) -> Registry | None: ...

    # repositories
    def repository_exists(self, registry_id: int, repository: str) -> bool: ...
    def list_repositories(self, registry_id: int, last: str | None, limit: int | None) -> list[str]:
        """Names in lexical order, leaving out repositories whose listEnabled is false."""

    def repository_attributes(self, registry_id: int, repository: str) -> Attributes | None: ...

    # blobs
    def repository_blob_size(self, registry_id: int, repository: str, digest: str) -> int | None: ...
    def blob_size(self, registry_id: int, digest: str) -> int | None: ...
    def blob_transaction(self) -> AbstractContextManager[BlobTransaction]:
        """Record committed bytes (core/usage.record_blob): the blob, its usage, its link, the finished upload."""

    def link_blob(self, registry_id: int, repository: str, digest: str) -> int | None:
        """Link a blob the registry already holds; its size, or None when it holds none."""

    def unlink_blob(self, registry_id: int, repository: str, digest: str) -> bool: ...
    def repositories_with_blob(self, registry_id: int, digest: str, limit: int) -> list[str]: ...

    # uploads
    def create_upload(self, upload: UploadRecord) -> None: ...
    def get_upload(self, registry_id: int, repository: str, upload_id: str) -> UploadRecord | None: ...
    def advance_upload(self, upload_id: str, from_size: int, to_size: int, hash_state: bytes | None) -> bool:
        """Compare-and-set the upload's size; False when another request moved it first."""

    def delete_upload(self, upload_id: str) -> bool: ...
    def uploads_idle_since(self, before: datetime) -> list[str]: ...
    def upload_exists(self, upload_id: str) -> bool: ...

    # manifests and tags
    def reference_sizes(
        self, registry_id: int, repository: str, blobs: tuple[str, ...], manifests: tuple[str, ...]
    ) -> dict[str, int]:
        """Sizes of those blobs and manifests the repository holds (absent ones are left out)."""
    def transaction(self) -> AbstractContextManager[ManifestTransaction]:
        """Pushes and deletes of manifests and tags (core/manifests.py: store_manifest, remove_image, remove_tag)."""

    def get_manifest_by_tag(self, registry_id: int, repository: str, tag: str) -> ManifestRecord | None: ...
    def get_manifest_by_digest(self, registry_id: int, repository: str, digest: str) -> ManifestRecord | None: ...
    def list_tags(self, registry_id: int, repository: str, last: str | None, limit: int | None) -> list[str] | None:
        """Tags in lexical order, leaving out those whose listEnabled is false; None when the repository
        does not exist."""

    def list_referrers(
        self, registry_id: int, repository: str, subject: str, artifact_type: str | None
    ) -> list[ReferrerRecord]: ...

    def close(self) -> None: ...
