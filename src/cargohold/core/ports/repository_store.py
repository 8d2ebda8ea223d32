"""The RepositoryStore protocol: repositories, tags and manifests as the control plane manages them
(details, changeable attributes, deletes) and the write-once tag rules."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cargohold.core.ports.records import Attributes, TagImmutabilityRule
from cargohold.core.ports.transactions import ManifestTransaction


@dataclass(frozen=True, slots=True)
class RepositoryInfo:
    name: str
    created_at: datetime
    updated_at: datetime
    manifest_count: int
    tag_count: int
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class TagInfo:
    name: str
    digest: str
    created_at: datetime
    updated_at: datetime
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    digest: str
    media_type: str
    artifact_type: str | None
    subject: str | None
    size: int
    created_at: datetime
    updated_at: datetime
    tags: tuple[str, ...]  # the tags naming it (those hidden by listEnabled=false left out)
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class RemovedRepository:
    manifests: list[str]
    tags: list[str]


# How listings may be ordered: by last update (oldest or newest first) or by name (tags) / digest.
ORDERS = ("time_asc", "time_desc", "name")


class RepositoryStore(Protocol):
    def names(self, registry_id: int, last: str | None, limit: int | None) -> list[str]:
        """Repository names in lexical order, those with listEnabled=false left out."""

    def repository(self, registry_id: int, name: str) -> RepositoryInfo | None: ...
    def set_repository_attributes(self, registry_id: int, name: str, changes: dict[str, bool]) -> RepositoryInfo | None:
        ...

    def transaction(self) -> AbstractContextManager[ManifestTransaction]:
        """The unit of work of deletes and untags (core/repositories.py applies the rules)."""

    def tags(self, registry_id: int, name: str, order: str, top: int | None) -> list[TagInfo] | None:
        """Listed tags (listEnabled=true); None when the repository does not exist."""

    def tag(self, registry_id: int, name: str, tag: str) -> TagInfo | None: ...
    def set_tag_attributes(self, registry_id: int, name: str, tag: str, changes: dict[str, bool]) -> TagInfo | None:
        ...

    def manifests(self, registry_id: int, name: str, order: str, top: int | None) -> list[ManifestInfo] | None:
        """Listed manifests, tagged or not; None when the repository does not exist."""

    def manifest(self, registry_id: int, name: str, digest: str) -> ManifestInfo | None: ...
    def set_manifest_attributes(self, registry_id: int, name: str, digest: str,
                                changes: dict[str, bool]) -> ManifestInfo | None: ...

    # write-once tag rules
    def tag_rules(self, registry_id: int) -> list[TagImmutabilityRule]: ...
    def create_tag_rule(self, rule: TagImmutabilityRule) -> TagImmutabilityRule:
        """Conflict when the registry has a rule with the same scope and pattern."""

    def delete_tag_rule(self, registry_id: int, rule_id: str) -> bool: ...
