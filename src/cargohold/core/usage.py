"""Usage against a registry's limits (`show-usage`), the count limits, and the hard storage quota.

Storage is counted once per distinct blob in the registry: `record_blob` adds a blob's size to
`storage_used_bytes` in the unit of work that first records the blob for the registry (a blob
mounted or pushed again into another repository adds nothing), and refuses it (rolling it back)
when the hard quota would be exceeded. Nothing here walks storage. Blob rows are removed with their
registry, and when a repository delete leaves them unlinked (core/storage_space.py), which subtracts
their sizes; deleting an image alone does not lower usage until garbage collection exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cargohold.core import skus
from cargohold.core.errors import Conflict, Denied
from cargohold.core.ports.records import RegistrySettings
from cargohold.core.ports.registry_store import QuotaExceeded, RegistryStore
from cargohold.core.ports.transactions import BlobTransactions
from cargohold.core.storage_space import SpaceStatus

# What each count limit is called in messages.
LIMIT_LABELS = {skus.TOKENS: "tokens", skus.SCOPE_MAPS: "scope maps", skus.WEBHOOKS: "webhooks",
                skus.REPLICATIONS: "geo-replications", skus.IP_RULES: "IP rules"}
_QUOTA_CACHE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class UsageRow:
    name: str
    limit: int
    current_value: int
    unit: str


@dataclass(frozen=True, slots=True)
class Usage:
    rows: list[UsageRow]
    over_included_bytes: int  # storage used beyond the SKU's included amount (0 when within it)


def registry_usage(settings: RegistrySettings, tokens: int, scope_maps: int) -> Usage:
    """The rows of `az acr show-usage`. Webhooks, replications and IP rules are not built yet: 0 used."""
    def limit(name: str) -> int:
        return skus.effective_limit(settings.sku, name, settings.limit_overrides)

    used = settings.storage_used_bytes
    included = limit(skus.STORAGE_INCLUDED)
    rows = [UsageRow("Size", included, used, "Bytes")]
    if settings.storage_quota_bytes is not None:
        rows.append(UsageRow("StorageQuota", settings.storage_quota_bytes, used, "Bytes"))
    rows += [
        UsageRow("Webhooks", limit(skus.WEBHOOKS), 0, "Count"),
        UsageRow("Geo-replications", limit(skus.REPLICATIONS), 0, "Count"),
        UsageRow("IPRules", limit(skus.IP_RULES), 0, "Count"),
        UsageRow("Tokens", limit(skus.TOKENS), tokens, "Count"),
        UsageRow("ScopeMaps", limit(skus.SCOPE_MAPS), scope_maps, "Count"),
    ]
    return Usage(rows, max(0, used - included))


def with_capacity(usage: Usage, status: SpaceStatus | None) -> Usage:
    """Usage with the storage's real capacity beside the SKU's included amount (after the storage rows):
    StorageCapacity (limit: the storage's size; current: bytes in use on it, by anything) and StorageFree
    (limit: the reserve below which uploads are refused; current: bytes free)."""
    if status is None:
        return usage
    rows = list(usage.rows)
    at = next((i for i, r in enumerate(rows) if r.unit != "Bytes"), len(rows))
    rows[at:at] = [UsageRow("StorageCapacity", status.total_bytes, status.total_bytes - status.free_bytes, "Bytes"),
                   UsageRow("StorageFree", status.reserve_bytes, status.free_bytes, "Bytes")]
    return Usage(rows, usage.over_included_bytes)


def limit_reached(registry_name: str, sku: str, limit: int, name: str) -> Conflict:
    label = LIMIT_LABELS.get(name, name)
    return Conflict(f"registry {registry_name!r} ({sku}) has reached its limit of {limit} {label}",
                    {"limit": name, "value": limit})


class LimitGuard:
    """Refuses creating a token or a user-defined scope map beyond the registry's limit.

    `checker` returns a check the store runs inside the insert's own write transaction, on a count
    taken there with the registry's settings row locked: racing creates at the limit cannot both
    pass (SQLite's write lock, PostgreSQL's row lock serialise them)."""

    def __init__(self, store: RegistryStore, name_of: Callable[[int], str]) -> None:
        self._store = store
        self._name_of = name_of

    def checker(self, registry_id: int, name: str) -> Callable[[int], None]:
        settings = self._store.get_settings(registry_id)
        limit = skus.effective_limit(settings.sku, name, settings.limit_overrides)

        def check(count: int) -> None:
            if count >= limit:
                raise limit_reached(self._name_of(registry_id), settings.sku, limit, name)

        return check


def check_quota(used_after: int, quota: int | None, size: int) -> None:
    """The hard quota: the registry may hold at most `quota` bytes of distinct blobs."""
    if quota is not None and used_after > quota:
        raise QuotaExceeded(used_after - size, quota, size)


def record_blob(store: BlobTransactions, registry_id: int, repository: str, digest: str, size: int,
                finished_upload: str | None = None) -> None:
    """Record committed bytes in one transaction: the blob (its bytes counted when new to the registry,
    within the hard quota: QuotaExceeded rolls it all back), its link to the repository (created when
    new), and the finished upload session dropped."""
    with store.blob_transaction() as tx:
        if tx.insert_blob(registry_id, digest, size):
            usage = tx.add_usage(registry_id, size)
            if usage is not None:
                check_quota(usage[0], usage[1], size)
        tx.link(registry_id, repository, digest)
        if finished_upload is not None:
            tx.drop_upload(finished_upload)


class StorageQuotaExceeded(Denied):
    """403 DENIED: a push would take the registry past its hard storage quota."""


def quota_denied(registry_name: str, used: int, quota: int, size: int) -> StorageQuotaExceeded:
    return StorageQuotaExceeded(
        f"storage quota of registry {registry_name!r} exceeded: {used} bytes used of {quota}; "
        f"this blob needs {size} more", {"quota": quota, "used": used, "size": size})


class QuotaGuard:
    """The hard quota as the upload path sees it: the room left (cached for a moment, so an
    upload chunk costs no extra query when the registry has no quota) and the refusal message."""

    def __init__(self, store: RegistryStore, name_of: Callable[[int], str]) -> None:
        self._store = store
        self._name_of = name_of
        self._quotas: dict[int, tuple[float, int | None]] = {}

    def room(self, registry_id: int) -> tuple[int, int] | None:
        """(bytes used, quota) when the registry has a quota; None when it has none."""
        hit = self._quotas.get(registry_id)
        if hit is not None and hit[0] > time.monotonic() and hit[1] is None:
            return None
        settings = self._store.get_settings(registry_id)
        self._quotas[registry_id] = (time.monotonic() + _QUOTA_CACHE_SECONDS, settings.storage_quota_bytes)
        if settings.storage_quota_bytes is None:
            return None
        return settings.storage_used_bytes, settings.storage_quota_bytes

    def refuse(self, registry_id: int, used: int, quota: int, size: int) -> StorageQuotaExceeded:
        return quota_denied(self._name_of(registry_id), used, quota, size)

    def translate(self, registry_id: int, exc: QuotaExceeded) -> StorageQuotaExceeded:
        return self.refuse(registry_id, exc.used, exc.quota, exc.size)
