"""The MetadataStore protocol: everything the core asks of the metadata database."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from cargohold.core.ports.records import (
    Attributes,
    ManifestRecord,
    NewManifest,
    ReferrerRecord,
    Registry,
    UploadRecord,
)


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
    def add_blob(self, registry_id: int, repository: str, digest: str, size: int,
                 finished_upload: str | None = None) -> None:
        """Record committed bytes, link them to the repository (created if new), drop the finished upload."""

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
    def put_manifest(self, registry_id: int, repository: str, manifest: NewManifest, tag: str | None) -> None: ...
    def get_manifest_by_tag(self, registry_id: int, repository: str, tag: str) -> ManifestRecord | None: ...
    def get_manifest_by_digest(self, registry_id: int, repository: str, digest: str) -> ManifestRecord | None: ...
    def delete_manifest(self, registry_id: int, repository: str, digest: str) -> bool:
        """Delete a manifest and its tags; Denied when a lock or a write-once rule forbids it."""

    def delete_image(self, registry_id: int, repository: str, digest: str) -> list[str] | None:
        """delete_manifest, returning the tags deleted (None: no such manifest)."""

    def delete_tag(self, registry_id: int, repository: str, tag: str) -> bool:
        """Untag; Denied when the tag is locked or write-once."""

    def list_tags(self, registry_id: int, repository: str, last: str | None, limit: int | None) -> list[str] | None:
        """Tags in lexical order, leaving out those whose listEnabled is false; None when the repository
        does not exist."""

    def list_referrers(
        self, registry_id: int, repository: str, subject: str, artifact_type: str | None
    ) -> list[ReferrerRecord]: ...

    def close(self) -> None: ...
