"""Units of work: the store opens a write transaction and hands core the rows it guards; core applies
its rules (locks, write-once tags, the hard quota, retention) between the reads and the writes.

`with store.transaction() as tx:` commits when the block ends and rolls everything back when it
raises, so a rule that refuses leaves nothing written. Every read method reads rows that stay locked
until the transaction ends (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the database write lock taken
at BEGIN), so a concurrent change either waits or is seen. Rows are locked in one order everywhere —
the repository row first, then its tags and manifests — so PostgreSQL never deadlocks; the repository
methods that come first in each unit of work (`push_into`, `lock_repository`) take it. Generations
are bumped by the store after the commit, for what the transaction changed.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from cargohold.core.ports.records import (
    DueFacts,
    ManifestRow,
    NewManifest,
    RepositoryRow,
    TagRow,
    TagRule,
)


class ManifestTransaction(Protocol):
    """Manifests, tags and repositories of one registry: pushes and deletes."""

    def push_into(self, registry_id: int, repository: str) -> RepositoryRow:
        """The repository (created when new), marked updated and locked: a push's first statement."""

    def lock_repository(self, registry_id: int, repository: str) -> RepositoryRow | None:
        """The repository locked, or None when it does not exist."""

    def tag_rules(self, registry_id: int) -> list[TagRule]: ...

    def put_manifest(self, repo: RepositoryRow, manifest: NewManifest) -> None:
        """Insert the manifest and its references, or refresh its `updated_at` when it is there."""

    def create_tag(self, repo: RepositoryRow, tag: str, digest: str) -> bool:
        """Insert the tag if absent; False when it exists (of racing inserts exactly one wins: on
        PostgreSQL the others wait on the unique key, then see its committed row)."""

    def point_tag(self, repo: RepositoryRow, tag: str, digest: str) -> bool:
        """Create the tag, or move it unless its row has writeEnabled false, in one statement;
        False when the row was left as it was (it names `digest` already, or it is write-locked):
        read it with `tag` for the rule to judge."""

    def tag(self, repo: RepositoryRow, tag: str) -> TagRow | None: ...

    def manifest(self, repo: RepositoryRow, digest: str) -> ManifestRow | None: ...

    def tags_of(self, repo: RepositoryRow, digest: str) -> list[TagRow]:
        """The tags naming `digest`, by name."""

    def all_tags(self, repo: RepositoryRow) -> list[TagRow]: ...

    def all_manifests(self, repo: RepositoryRow) -> list[ManifestRow]: ...

    def delete_manifest(self, repo: RepositoryRow, digest: str) -> None:
        """The manifest, every tag naming it and its reference rows."""

    def delete_tag(self, repo: RepositoryRow, tag: str) -> None: ...

    def delete_repository(self, repo: RepositoryRow) -> None:
        """The repository and everything in it (manifests, tags, references, blob links)."""

    def touch(self, repo: RepositoryRow) -> None:
        """Mark the repository updated (its tags or manifests changed)."""


class ManifestTransactions(Protocol):
    def transaction(self) -> AbstractContextManager[ManifestTransaction]: ...


class BlobTransaction(Protocol):
    """A committed upload recorded: the blob, its bytes counted once per registry, its link."""

    def insert_blob(self, registry_id: int, digest: str, size: int) -> bool:
        """Record the blob for the registry; False when the registry holds it already."""

    def add_usage(self, registry_id: int, size: int) -> tuple[int, int | None] | None:
        """Add `size` to the registry's used bytes (its settings row locked): (used now, hard quota),
        or None when the registry has no settings row."""

    def link(self, registry_id: int, repository: str, digest: str) -> None:
        """Link the blob to the repository (created when new); not a repository update."""

    def drop_upload(self, upload_id: str) -> None: ...


class BlobTransactions(Protocol):
    def blob_transaction(self) -> AbstractContextManager[BlobTransaction]: ...


class RetentionTransaction(Protocol):
    def lock_manifest(self, repository_id: int, digest: str) -> bool:
        """Lock the manifest row; False when it is gone (a concurrent sweep or delete)."""

    def due_facts(self, registry_id: int, repository_id: int, digest: str) -> DueFacts | None:
        """What the retention rule reads, re-read after the lock (a new statement sees what committed
        while it waited); None when the manifest is not the registry's."""

    def delete_manifest(self, repository_id: int, digest: str) -> None:
        """The manifest row and its reference rows (its repository's `updated_at` left alone)."""


class RetentionTransactions(Protocol):
    def transaction(self) -> AbstractContextManager[RetentionTransaction]: ...
