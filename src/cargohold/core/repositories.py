"""Repository management (`az acr repository` / `az acr manifest`): inspect repositories, tags and
manifests, change their attributes (core/attributes.py has the rules), delete and untag, and manage the
write-once tag rules (core/tag_rules.py). Who may do what is checked by the caller (the API layer)
against the principal's grant on the repository; this service validates input and applies the change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cargohold.core import attributes, tag_rules
from cargohold.core.blocking import blocking
from cargohold.core.digests import Digest, is_digest
from cargohold.core.errors import InvalidArgument, NotFound, RegistryError
from cargohold.core.manifests import remove_image, remove_tag
from cargohold.core.names import validate_repository_name, validate_tag
from cargohold.core.ports.records import TagImmutabilityRule
from cargohold.core.ports.repository_store import (
    ORDERS,
    ManifestInfo,
    RemovedRepository,
    RepositoryInfo,
    RepositoryStore,
    TagInfo,
)
from cargohold.core.ports.transactions import ManifestTransactions

MAX_TOP = 10_000


@dataclass(frozen=True, slots=True)
class DeletedImage:
    digest: str
    tags: list[str]


def _name(name: str) -> str:
    """A malformed name names nothing: 404, as for any unknown resource."""
    try:
        return validate_repository_name(name)
    except RegistryError:
        raise NotFound(f"repository {name!r} not found", {"repository": name}) from None


def _tag(name: str, tag: str) -> str:
    try:
        return validate_tag(tag)
    except RegistryError:
        raise NotFound(f"tag {tag!r} not found in repository {name!r}", {"repository": name, "tag": tag}) from None


def check_order(order: str | None) -> str:
    value = order or "name"
    if value not in ORDERS:
        raise InvalidArgument(f"orderby must be one of {', '.join(ORDERS)}, not {order!r}", {"orderby": order})
    return value


def check_top(top: int | None) -> int | None:
    if top is not None and not 1 <= top <= MAX_TOP:
        raise InvalidArgument(f"top must be between 1 and {MAX_TOP}", {"top": top})
    return top


def remove_repository(store: ManifestTransactions, registry_id: int, name: str) -> RemovedRepository | None:
    """Everything in the repository (manifests, tags, blob links) in one transaction; None when it does
    not exist. Refused (Denied, nothing deleted) by its own lock, any tag's or manifest's lock, or a
    write-once rule protecting one of its tags."""
    with store.transaction() as tx:
        repo = tx.lock_repository(registry_id, name)
        if repo is None:
            return None
        attributes.check_repository_delete(name, repo.attributes)
        tags = tx.all_tags(repo)
        for tag_row in tags:
            attributes.check_tag_delete(name, tag_row.name, tag_row.attributes)
        manifests = tx.all_manifests(repo)
        for manifest_row in manifests:
            attributes.check_manifest_delete(name, manifest_row.digest, manifest_row.attributes, ())
        tag_names = [row.name for row in tags]
        tag_rules.check_delete(tx.tag_rules(registry_id), name, tag_names)
        tx.delete_repository(repo)
    return RemovedRepository([row.digest for row in manifests], tag_names)


def _missing_repository(name: str) -> NotFound:
    return NotFound(f"repository {name!r} not found", {"repository": name})


class RepositoryService:
    def __init__(self, store: RepositoryStore, release: Callable[[int], int] | None = None) -> None:
        self.store = store
        self.release = release  # frees the bytes of blobs no repository links (core/storage_space.py)

    # --- repositories ---------------------------------------------------------------------------

    async def names(self, registry_id: int, last: str | None, top: int | None) -> list[str]:
        """Every listed repository (the caller filters what its principal may read)."""
        return await blocking(self.store.names, registry_id, last or None, check_top(top))

    async def show(self, registry_id: int, name: str) -> RepositoryInfo:
        found = await blocking(self.store.repository, registry_id, _name(name))
        if found is None:
            raise _missing_repository(name)
        return found

    async def update(self, registry_id: int, name: str, changes: dict[str, bool | None]) -> RepositoryInfo:
        found = await blocking(self.store.set_repository_attributes, registry_id, _name(name),
                               attributes.changed_fields(changes))
        if found is None:
            raise _missing_repository(name)
        return found

    async def delete(self, registry_id: int, name: str) -> RemovedRepository:
        removed = await blocking(remove_repository, self.store, registry_id, _name(name))
        if removed is None:
            raise _missing_repository(name)
        if self.release is not None:
            await blocking(self.release, registry_id)
        return removed

    # --- tags -----------------------------------------------------------------------------------

    async def tags(self, registry_id: int, name: str, order: str | None, top: int | None) -> list[TagInfo]:
        found = await blocking(self.store.tags, registry_id, _name(name), check_order(order), check_top(top))
        if found is None:
            raise _missing_repository(name)
        return found

    async def tag(self, registry_id: int, name: str, tag: str) -> TagInfo:
        found = await blocking(self.store.tag, registry_id, _name(name), _tag(name, tag))
        if found is None:
            raise await self._missing_tag(registry_id, name, tag)
        return found

    async def update_tag(self, registry_id: int, name: str, tag: str, changes: dict[str, bool | None]) -> TagInfo:
        found = await blocking(self.store.set_tag_attributes, registry_id, _name(name), _tag(name, tag),
                               attributes.changed_fields(changes))
        if found is None:
            raise await self._missing_tag(registry_id, name, tag)
        return found

    async def untag(self, registry_id: int, name: str, tag: str) -> None:
        if not await blocking(remove_tag, self.store, registry_id, _name(name), _tag(name, tag)):
            raise await self._missing_tag(registry_id, name, tag)

    async def _missing_tag(self, registry_id: int, name: str, tag: str) -> NotFound:
        if await blocking(self.store.repository, registry_id, name) is None:
            return _missing_repository(name)
        return NotFound(f"tag {tag!r} not found in repository {name!r}", {"repository": name, "tag": tag})

    # --- manifests ------------------------------------------------------------------------------

    async def manifests(self, registry_id: int, name: str, order: str | None, top: int | None) -> list[ManifestInfo]:
        found = await blocking(self.store.manifests, registry_id, _name(name), check_order(order), check_top(top))
        if found is None:
            raise _missing_repository(name)
        return found

    async def resolve(self, registry_id: int, name: str, reference: str) -> str:
        """The digest a reference (a digest, or a tag) names."""
        _name(name)
        if is_digest(reference):
            try:
                Digest.parse(reference)
            except RegistryError:
                raise NotFound(f"manifest {reference!r} not found in repository {name!r}") from None
            return reference
        return (await self.tag(registry_id, name, reference)).digest

    async def manifest(self, registry_id: int, name: str, reference: str) -> ManifestInfo:
        digest = await self.resolve(registry_id, name, reference)
        found = await blocking(self.store.manifest, registry_id, name, digest)
        if found is None:
            raise await self._missing_manifest(registry_id, name, reference)
        return found

    async def update_manifest(self, registry_id: int, name: str, reference: str,
                              changes: dict[str, bool | None]) -> ManifestInfo:
        digest = await self.resolve(registry_id, name, reference)
        found = await blocking(self.store.set_manifest_attributes, registry_id, name, digest,
                               attributes.changed_fields(changes))
        if found is None:
            raise await self._missing_manifest(registry_id, name, reference)
        return found

    async def delete_image(self, registry_id: int, name: str, reference: str) -> DeletedImage:
        """The manifest a tag or digest names, and every tag naming it."""
        digest = await self.resolve(registry_id, name, reference)
        tags = await blocking(remove_image, self.store, registry_id, name, digest)
        if tags is None:
            raise await self._missing_manifest(registry_id, name, reference)
        return DeletedImage(digest, tags)

    async def _missing_manifest(self, registry_id: int, name: str, reference: str) -> NotFound:
        if await blocking(self.store.repository, registry_id, name) is None:
            return _missing_repository(name)
        return NotFound(f"manifest {reference!r} not found in repository {name!r}",
                        {"repository": name, "reference": reference})

    # --- write-once tag rules -------------------------------------------------------------------

    async def tag_rules(self, registry_id: int) -> list[TagImmutabilityRule]:
        return await blocking(self.store.tag_rules, registry_id)

    async def create_tag_rule(self, registry_id: int, pattern: str, repository: str = "",
                              description: str = "") -> TagImmutabilityRule:
        pattern, repository, description = tag_rules.validate_rule(pattern, repository, description)
        rule = TagImmutabilityRule(str(uuid.uuid4()), registry_id, repository, pattern, description,
                                   datetime.now(UTC))
        return await blocking(self.store.create_tag_rule, rule)

    async def delete_tag_rule(self, registry_id: int, rule_id: str) -> None:
        if not await blocking(self.store.delete_tag_rule, registry_id, rule_id):
            raise NotFound(f"tag rule {rule_id!r} not found", {"id": rule_id})
