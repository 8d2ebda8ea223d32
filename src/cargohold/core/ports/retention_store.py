"""The RetentionStore protocol: which untagged manifests are due (a scan stating core/retention.py's rule
as a query), and the unit of work in which core re-checks each candidate and deletes it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from cargohold.core.ports.records import DueManifest, Registry, RegistrySettings
from cargohold.core.ports.transactions import RetentionTransaction


class RetentionStore(Protocol):
    def settings_updated_at(self, registry_id: int) -> datetime | None: ...

    def registries_with_retention(self) -> list[tuple[Registry, RegistrySettings]]:
        """Every registry whose policy is enabled, with its settings."""

    def due_manifests(self, registry_id: int, cutoff: datetime, after: tuple[int, str] | None,
                      limit: int) -> list[DueManifest]:
        """Candidates (the rule as a query) ordered by (repository id, digest), after the keyset `after`."""

    def transaction(self) -> AbstractContextManager[RetentionTransaction]: ...
