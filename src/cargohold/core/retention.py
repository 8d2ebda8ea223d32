"""The retention policy for untagged manifests (ACR's `az acr config retention`, a Premium feature).

When enabled, a manifest is *due* for deletion once all of these hold:

- untagged: no tag of its repository points at it;
- unreferenced: no other manifest of its repository lists it (the children of an index are untagged
  but in use);
- not an attached artifact of a live subject: a referrer (signature, SBOM) whose subject manifest still
  exists in the repository stays with its image;
- unlocked: its own `writeEnabled` and `deleteEnabled` are both true (ACR skips locked manifests; a
  repository lock does not protect the repository's unlocked images);
- untagged for longer than `days` (0 = as soon as a sweep sees it).

"Untagged since" is not recorded, so the rule uses a bound that can only be late, never early:
`max(manifest.updated_at, repository.updated_at)`. It is sound because (1) every push that points a tag
at a manifest upserts the manifest row and refreshes its `updated_at`, and (2) every change that can
untag a manifest (a tag moved by a push, a tag or manifest deleted) touches its repository's
`updated_at`. So the manifest has carried no tag since that instant. The cost of the approximation: any
push or delete in a repository restarts the clock of every untagged manifest in it, so a repository
written to more often than every `days` days keeps its untagged manifests until it goes quiet for that
long. Retention deletions themselves do not touch the repository (that would restart the clock of the
others), so an index's children and a deleted subject's referrers fall due within the same sweep.

Deleting a manifest removes its row and its reference rows; blob bytes and blob links stay (a
garbage collector's work).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cargohold.core.errors import Conflict, InvalidArgument
from cargohold.core.ports.records import DueFacts, DueManifest, Registry, RegistrySettings
from cargohold.core.ports.retention_store import RetentionStore
from cargohold.core.skus import RETENTION_POLICY, parse_sku

POLICY_TYPE = "UntaggedManifests"  # the one type ACR offers
DAYS_MIN, DAYS_MAX = 0, 365
ENABLED, DISABLED = "enabled", "disabled"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    enabled: bool
    days: int
    updated_at: datetime | None  # when the registry's settings last changed (the policy lives there)


class SettingsStore(Protocol):
    def get_settings(self, registry_id: int) -> RegistrySettings: ...

    def update_settings(self, registry_id: int, **changes: Any) -> RegistrySettings: ...


__all__ = ["DueManifest", "RetentionService", "RetentionStore", "SettingsStore", "delete_if_due", "is_due", "sweep"]


def is_due(facts: DueFacts, cutoff: datetime) -> bool:
    """The rule above, for one manifest (re-checked on its locked row before it is deleted)."""
    return (facts.write_enabled and facts.delete_enabled and not facts.tagged and not facts.referenced
            and not facts.subject_alive and max(facts.updated_at, facts.repository_updated_at) <= cutoff)


def delete_if_due(store: RetentionStore, registry_id: int, candidates: list[DueManifest],
                  cutoff: datetime) -> list[DueManifest]:
    """One transaction for the batch: each candidate locked, re-checked with `is_due` and deleted with
    its reference rows; those deleted. The repository's `updated_at` is left alone (it is the clock)."""
    deleted: list[DueManifest] = []
    with store.transaction() as tx:
        for c in candidates:
            if not tx.lock_manifest(c.repository_id, c.digest):
                continue  # gone already (a concurrent sweep or a delete)
            facts = tx.due_facts(registry_id, c.repository_id, c.digest)
            if facts is None or not is_due(facts, cutoff):
                continue
            tx.delete_manifest(c.repository_id, c.digest)
            deleted.append(c)
    return deleted


def validate_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not DAYS_MIN <= days <= DAYS_MAX:
        raise InvalidArgument(f"retention days must be an integer from {DAYS_MIN} to {DAYS_MAX}",
                              {"days": days})
    return days


def validate_status(status: str) -> bool:
    if status.lower() not in (ENABLED, DISABLED):
        raise InvalidArgument(f"retention status must be {ENABLED} or {DISABLED}, not {status!r}",
                              {"status": status})
    return status.lower() == ENABLED


def validate_type(policy_type: str) -> str:
    if policy_type.lower() != POLICY_TYPE.lower():
        raise InvalidArgument(f"retention policy type must be {POLICY_TYPE}, not {policy_type!r}",
                              {"type": policy_type})
    return POLICY_TYPE


def require_feature(registry: Registry, sku: str) -> None:
    if not parse_sku(sku).has(RETENTION_POLICY):
        raise Conflict(f"the {RETENTION_POLICY} needs the Premium SKU (registry {registry.name!r} is "
                       f"{parse_sku(sku).name})", {"feature": RETENTION_POLICY, "sku": parse_sku(sku).name})


def cutoff(now: datetime, days: int) -> datetime:
    """Manifests untagged since this instant or earlier are due."""
    return now - timedelta(days=days)


class RetentionService:
    """Show and change a registry's policy (the control plane) — the SKU rule lives here."""

    def __init__(self, settings: SettingsStore, store: RetentionStore) -> None:
        self.settings = settings
        self.store = store

    def show(self, registry: Registry) -> RetentionPolicy:
        s = self.settings.get_settings(registry.id)
        return RetentionPolicy(s.retention_enabled, s.retention_days, self.store.settings_updated_at(registry.id))

    def update(self, registry: Registry, *, status: str | None = None, days: object = None,
               policy_type: str | None = None) -> RetentionPolicy:
        """Validate everything first (bad input changes nothing), then write once.
        Enabling needs the SKU feature; disabling, or changing days while disabled, never does (ACR keeps
        the policy's settings when it is off)."""
        if policy_type is not None:
            validate_type(policy_type)
        enabled = validate_status(status) if status is not None else None
        new_days = validate_days(days) if days is not None else None
        current = self.settings.get_settings(registry.id)
        if enabled or (enabled is None and current.retention_enabled and new_days is not None):
            require_feature(registry, current.sku)
        changes: dict[str, Any] = {}
        if enabled is not None:
            changes["retention_enabled"] = enabled
        if new_days is not None:
            changes["retention_days"] = new_days
        if changes:
            self.settings.update_settings(registry.id, **changes)
        return self.show(registry)


@dataclass(frozen=True, slots=True)
class SweepResult:
    registries: int = 0
    deleted: int = 0


def sweep(store: RetentionStore, on_deleted: Callable[[Registry, DueManifest, int], None],
          now: Callable[[], datetime] = lambda: datetime.now(UTC), batch: int = 200,
          max_passes: int = 10) -> SweepResult:
    """One sweep over every registry with the policy on. Passes repeat while they delete something
    (bounded), so children of a deleted index and referrers of a deleted subject go in the same sweep.
    A registry whose SKU no longer has the feature is skipped (its policy is kept, inactive)."""
    registries = deleted = 0
    for registry, settings in store.registries_with_retention():
        if not parse_sku(settings.sku).has(RETENTION_POLICY):
            continue
        registries += 1
        limit = cutoff(now(), settings.retention_days)
        for _ in range(max_passes):
            removed_this_pass = 0
            after: tuple[int, str] | None = None
            while True:
                due = store.due_manifests(registry.id, limit, after, batch)
                if not due:
                    break
                for manifest in delete_if_due(store, registry.id, due, limit):
                    on_deleted(registry, manifest, settings.retention_days)
                    removed_this_pass += 1
                after = (due[-1].repository_id, due[-1].digest)
            deleted += removed_this_pass
            if not removed_this_pass:
                break
    return SweepResult(registries, deleted)
