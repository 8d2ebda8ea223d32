"""Changeable attributes (locks) of repositories, tags and manifests: every rule, ACR's semantics.

- repository: `writeEnabled=false` → nothing is pushed into it (manifests, tags, blob uploads) and it
  cannot be deleted; `deleteEnabled=false` → it cannot be deleted; `readEnabled=false` → no pulls
  (manifests and blobs); `listEnabled=false` → hidden from the catalog and `repository list`.
  A repository lock never blocks deleting or untagging its unlocked images.
- tag: `writeEnabled=false` → it is not moved to another digest (re-pushing the digest it names is a
  no-op success), not untagged, and its manifest is not deleted (that would delete the tag);
  `deleteEnabled=false` → not untagged, its manifest not deleted (it may be moved);
  `readEnabled=false` → no pull by this tag; `listEnabled=false` → hidden from tag listings.
- manifest: `writeEnabled=false` or `deleteEnabled=false` → it is not deleted; `readEnabled=false`
  → no pull by digest or by any tag naming it; `listEnabled=false` → hidden from manifest listings.
  Tag and manifest attributes are independent: a locked manifest's tags may still be moved.

Core calls these checks inside the unit of work of the change they guard (core/ports/transactions.py),
on rows the store has read (and locked on PostgreSQL) in that transaction, so a lock set concurrently is
never bypassed.
Every refusal is `Denied` (403 DENIED on both planes) and names the lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from cargohold.core.blocking import blocking
from cargohold.core.errors import Denied, InvalidArgument
from cargohold.core.fact_cache import FactCache
from cargohold.core.ports.generations import ATTRIBUTES, REMOVALS, Generations
from cargohold.core.ports.records import Attributes

# Field of Attributes → how az and the error messages spell it, and the API's camelCase name.
FLAGS = {"write_enabled": ("write-enabled", "writeEnabled"), "delete_enabled": ("delete-enabled", "deleteEnabled"),
         "read_enabled": ("read-enabled", "readEnabled"), "list_enabled": ("list-enabled", "listEnabled")}


@dataclass(frozen=True, slots=True)
class Target:
    """What a lock sits on: `kind` repository | tag | manifest, its name, and its repository."""

    kind: str
    name: str
    repository: str

    def __str__(self) -> str:
        if self.kind == "repository":
            return f"repository '{self.name}'"
        return f"{self.kind} '{self.name}' in repository '{self.repository}'"


def locked(target: Target, flag: str) -> Denied:
    """The refusal naming the lock, e.g. `tag 'v1' in repository 'app' is locked (write-enabled: false)`."""
    spelt = FLAGS[flag][0]
    return Denied(f"{target} is locked ({spelt}: false)",
                  {"kind": target.kind, "name": target.name, "repository": target.repository,
                   "attribute": FLAGS[flag][1]})


def repository(name: str) -> Target:
    return Target("repository", name, name)


def tag(repository_name: str, name: str) -> Target:
    return Target("tag", name, repository_name)


def manifest(repository_name: str, digest: str) -> Target:
    return Target("manifest", digest, repository_name)


# --- the rules ---------------------------------------------------------------------------------


def check_push(name: str, attrs: Attributes) -> None:
    """Pushing a manifest, a tag or a blob into repository `name`."""
    if not attrs.write_enabled:
        raise locked(repository(name), "write_enabled")


def check_tag_move(repository_name: str, name: str, attrs: Attributes, current: str, pushed: str) -> None:
    """Pointing an existing tag at `pushed` (a re-push of the digest it names changes nothing)."""
    if current != pushed and not attrs.write_enabled:
        raise locked(tag(repository_name, name), "write_enabled")


def check_tag_delete(repository_name: str, name: str, attrs: Attributes) -> None:
    """Untagging, directly or by deleting its manifest or repository."""
    for flag in ("write_enabled", "delete_enabled"):
        if not getattr(attrs, flag):
            raise locked(tag(repository_name, name), flag)


def check_manifest_delete(repository_name: str, digest: str, attrs: Attributes,
                          tags: Iterable[tuple[str, Attributes]]) -> None:
    """Deleting a manifest deletes every tag naming it: each of them must be deletable too."""
    for flag in ("write_enabled", "delete_enabled"):
        if not getattr(attrs, flag):
            raise locked(manifest(repository_name, digest), flag)
    for tag_name, tag_attrs in tags:
        check_tag_delete(repository_name, tag_name, tag_attrs)


def check_repository_delete(name: str, attrs: Attributes) -> None:
    """Deleting a repository (its images' own locks are checked one by one as well)."""
    for flag in ("write_enabled", "delete_enabled"):
        if not getattr(attrs, flag):
            raise locked(repository(name), flag)


def check_read(repository_name: str, reference: str, repository_read: bool, tag_read: bool,
               manifest_read: bool, digest: str) -> None:
    """Pulling a manifest by tag (`reference` a tag) or by digest (`reference` == `digest`)."""
    if not repository_read:
        raise locked(repository(repository_name), "read_enabled")
    if not tag_read:
        raise locked(tag(repository_name, reference), "read_enabled")
    if not manifest_read:
        raise locked(manifest(repository_name, digest), "read_enabled")


def check_blob_read(repository_name: str, attrs: Attributes) -> None:
    if not attrs.read_enabled:
        raise locked(repository(repository_name), "read_enabled")


# --- changes -----------------------------------------------------------------------------------


def changed_fields(changes: dict[str, bool | None]) -> dict[str, bool]:
    """The flags to set (Attributes field names; None = leave as it is)."""
    unknown = set(changes) - set(FLAGS)
    if unknown:
        raise InvalidArgument(f"unknown attributes {sorted(unknown)}")
    return {k: bool(v) for k, v in changes.items() if v is not None}


def as_json(attrs: Attributes) -> dict[str, bool]:
    """ACR's `changeableAttributes` object."""
    return {"deleteEnabled": attrs.delete_enabled, "writeEnabled": attrs.write_enabled,
            "readEnabled": attrs.read_enabled, "listEnabled": attrs.list_enabled}


# --- repository locks on the data plane's blob paths -------------------------------------------


class RepositoryAttributeSource(Protocol):
    def repository_attributes(self, registry_id: int, repository: str) -> Attributes | None: ...


class RepositoryLocks:
    """The repository's attributes for blob reads and uploads, cached per worker until any attribute
    changes or anything is removed (generations ATTRIBUTES, REMOVALS): a pull pays no extra query once
    the repository has been seen. Manifests carry their locks in their own query instead."""

    def __init__(self, store: RepositoryAttributeSource, generations: Generations, entries: int = 10_000) -> None:
        self._store = store
        self._cache: FactCache[Attributes] = FactCache(generations, (ATTRIBUTES, REMOVALS), entries)

    async def of(self, registry_id: int, repository: str) -> Attributes:
        key = (registry_id, repository)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        stamp = self._cache.stamp()
        found = await blocking(self._store.repository_attributes, registry_id, repository)
        attrs = found if found is not None else UNLOCKED
        if found is not None:
            self._cache.put(key, attrs, stamp)
        return attrs

    async def check_readable(self, registry_id: int, repository: str) -> None:
        check_blob_read(repository, await self.of(registry_id, repository))

    async def check_writable(self, registry_id: int, repository: str) -> None:
        check_push(repository, await self.of(registry_id, repository))


UNLOCKED = Attributes()
