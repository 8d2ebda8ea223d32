"""Manifests in a repository: push (validated against what the repository holds), pull, delete."""

from __future__ import annotations

from dataclasses import dataclass

from cargohold.core import attributes, tag_rules
from cargohold.core.access import Caller
from cargohold.core.blocking import blocking
from cargohold.core.digests import Digest, is_digest
from cargohold.core.errors import (
    Denied,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameUnknown,
    TagInvalid,
)
from cargohold.core.fact_cache import FactCache
from cargohold.core.manifest_format import parse_manifest
from cargohold.core.names import validate_repository_name, validate_tag
from cargohold.core.permissions import PUSH
from cargohold.core.ports.generations import ATTRIBUTES, REMOVALS, TAGS, Generations
from cargohold.core.ports.metadata_store import MetadataStore
from cargohold.core.ports.records import ManifestRecord, NewManifest, RepositoryRow
from cargohold.core.ports.transactions import ManifestTransaction, ManifestTransactions


@dataclass(frozen=True, slots=True)
class PushedManifest:
    digest: str
    subject: str | None


def _known_tag_form(reference: str) -> None:
    """A reference that cannot be a tag names no manifest: 404, as the conformance suite expects."""
    try:
        validate_tag(reference)
    except TagInvalid:
        raise ManifestUnknown(detail={"reference": reference}) from None


def _readable(repository: str, reference: str, found: ManifestRecord) -> ManifestRecord:
    attributes.check_read(repository, reference, found.repository_read, found.tag_read, found.manifest_read,
                          found.digest)
    return found


# --- the units of work (run in a thread: each is one write transaction the store opens) ----------


def store_manifest(store: ManifestTransactions, registry_id: int, repository: str, manifest: NewManifest,
                   tag: str | None) -> None:
    """Store a manifest (and point `tag` at it) in one transaction, refused by the repository's write
    lock, the tag's write lock or a write-once rule (nothing is then written)."""
    with store.transaction() as tx:
        repo = tx.push_into(registry_id, repository)
        attributes.check_push(repository, repo.attributes)
        tx.put_manifest(repo, manifest)
        if tag is not None:
            _point_tag(tx, registry_id, repo, tag, manifest.digest)


def _point_tag(tx: ManifestTransaction, registry_id: int, repo: RepositoryRow, tag: str, digest: str) -> None:
    protected = tag_rules.protecting(tx.tag_rules(registry_id), repo.name, tag)
    if protected is not None:
        # Insert-if-absent, then compare: of racing pushes to a write-once tag exactly one inserts.
        if tx.create_tag(repo, tag, digest):
            return
        current = tx.tag(repo, tag)
        assert current is not None
        tag_rules.check_move([protected], repo.name, tag, current.digest, digest)
        return
    if tx.point_tag(repo, tag, digest):
        return  # created or moved
    current = tx.tag(repo, tag)  # it names this digest already, or it is write-locked
    assert current is not None
    attributes.check_tag_move(repo.name, tag, current.attributes, current.digest, digest)


def remove_image(store: ManifestTransactions, registry_id: int, repository: str, digest: str) -> list[str] | None:
    """Delete a manifest and every tag naming it; the tags deleted, or None when there is no such manifest.
    Refused (Denied) when the manifest or one of those tags is locked or write-once."""
    with store.transaction() as tx:
        repo = tx.lock_repository(registry_id, repository)
        if repo is None:
            return None
        found = tx.manifest(repo, digest)
        if found is None:
            return None
        tags = tx.tags_of(repo, digest)
        attributes.check_manifest_delete(repository, digest, found.attributes,
                                         [(row.name, row.attributes) for row in tags])
        names = [row.name for row in tags]
        if names:
            tag_rules.check_delete(tx.tag_rules(registry_id), repository, names)
        tx.delete_manifest(repo, digest)
        tx.touch(repo)
    return names


def remove_tag(store: ManifestTransactions, registry_id: int, repository: str, tag: str) -> bool:
    """Untag; False when there is no such tag; refused (Denied) when it is locked or write-once."""
    with store.transaction() as tx:
        repo = tx.lock_repository(registry_id, repository)
        if repo is None:
            return False
        found = tx.tag(repo, tag)
        if found is None:
            return False
        attributes.check_tag_delete(repository, tag, found.attributes)
        tag_rules.check_delete(tx.tag_rules(registry_id), repository, [tag])
        tx.delete_tag(repo, tag)
        tx.touch(repo)
    return True


class ManifestService:
    def __init__(self, metadata: MetadataStore, generations: Generations, cache_entries: int = 5_000,
                 locks: attributes.RepositoryLocks | None = None) -> None:
        self.metadata = metadata
        # Pulls are mostly repeats: serve them from memory while no tag moved, nothing was removed and no
        # attribute changed (records carry their readEnabled locks, so a lock is seen by every worker at once).
        self._by_tag: FactCache[ManifestRecord] = FactCache(generations, (TAGS, REMOVALS, ATTRIBUTES), cache_entries)
        self._by_digest: FactCache[ManifestRecord] = FactCache(generations, (REMOVALS, ATTRIBUTES), cache_entries)
        # The repository locks (one per worker, shared with the blob, upload and import services: app.py).
        self.locks = locks or attributes.RepositoryLocks(metadata, generations)

    async def put(
        self, registry_id: int, repository: str, reference: str, body: bytes, content_type: str | None,
        caller: Caller | None = None,
    ) -> PushedManifest:
        """Validate and store a manifest. A caller who may sign but not push (AcrImageSigner) may
        push only manifests that refer to a subject: signatures, attestations, SBOMs."""
        validate_repository_name(repository)
        tag: str | None = None
        algorithm = "sha256"
        if is_digest(reference):
            algorithm = Digest.parse(reference).algorithm
        else:
            tag = validate_tag(reference)
        parsed = parse_manifest(body, content_type, algorithm)
        # Early, from the per-worker cache, for a clear answer; checked again inside the write.
        await self.locks.check_writable(registry_id, repository)
        signatures_only = caller is not None and not caller.allows(repository, PUSH)
        if signatures_only and parsed.subject is None:
            raise Denied("this identity may only push artifacts that refer to a subject (signatures)")
        if tag is None and str(parsed.digest) != reference:
            raise DigestInvalid("manifest digest does not match the reference",
                                {"reference": reference, "digest": str(parsed.digest)})
        held = await blocking(
            self.metadata.reference_sizes, registry_id, repository, parsed.blobs, parsed.manifests
        )
        missing = [d for d in (*parsed.blobs, *parsed.manifests) if d not in held]
        if missing:
            raise ManifestBlobUnknown(detail={"missing": missing})
        wrong = {d: {"declared": parsed.declared_sizes[d], "actual": size}
                 for d, size in held.items() if parsed.declared_sizes[d] != size}
        if wrong:
            raise ManifestInvalid("descriptor sizes do not match the content they reference", wrong)
        record = NewManifest(
            digest=str(parsed.digest), media_type=parsed.media_type, artifact_type=parsed.artifact_type,
            subject_digest=parsed.subject, annotations=parsed.annotations or None, content=body,
            blobs=parsed.blobs, manifests=parsed.manifests,
        )
        await blocking(store_manifest, self.metadata, registry_id, repository, record, tag)
        return PushedManifest(record.digest, parsed.subject)

    async def get(self, registry_id: int, repository: str, reference: str) -> ManifestRecord:
        by_digest = is_digest(reference)
        cache = self._by_digest if by_digest else self._by_tag
        key = (registry_id, repository, reference)
        cached = cache.get(key)  # only valid names are ever cached
        if cached is not None:
            return _readable(repository, reference, cached)
        validate_repository_name(repository)
        stamp = cache.stamp()
        if by_digest:
            Digest.parse(reference)
            found = await blocking(self.metadata.get_manifest_by_digest, registry_id, repository, reference)
        else:
            _known_tag_form(reference)
            found = await blocking(self.metadata.get_manifest_by_tag, registry_id, repository, reference)
        if found is None:
            await self._raise_unknown(registry_id, repository, reference)
        assert found is not None
        cache.put(key, found, stamp)
        return _readable(repository, reference, found)

    async def delete(self, registry_id: int, repository: str, reference: str) -> None:
        """By digest: the manifest and its tags. By tag: only the tag (distribution-spec v1.1).
        Refused (Denied) when a lock or a write-once rule protects it."""
        validate_repository_name(repository)
        if is_digest(reference):
            Digest.parse(reference)
            deleted = await blocking(remove_image, self.metadata, registry_id, repository, reference) is not None
        else:
            _known_tag_form(reference)
            deleted = await blocking(remove_tag, self.metadata, registry_id, repository, reference)
        if not deleted:
            await self._raise_unknown(registry_id, repository, reference)

    async def _raise_unknown(self, registry_id: int, repository: str, reference: str) -> None:
        if not await blocking(self.metadata.repository_exists, registry_id, repository):
            raise NameUnknown(detail={"name": repository})
        raise ManifestUnknown(detail={"reference": reference})
