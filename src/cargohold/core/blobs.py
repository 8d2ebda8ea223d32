"""Blobs as a repository sees them: existence, ranged reads, mounts, unlinking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cargohold.core.attributes import RepositoryLocks
from cargohold.core.blocking import blocking
from cargohold.core.digests import Digest
from cargohold.core.errors import BlobUnknown, RangeNotSatisfiable
from cargohold.core.fact_cache import FactCache
from cargohold.core.names import validate_repository_name
from cargohold.core.ports.blob_store import BlobReader, BlobStore
from cargohold.core.ports.generations import REMOVALS, Generations
from cargohold.core.ports.metadata_store import MetadataStore


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def resolve_range(header: str | None, size: int) -> ByteRange | None:
    """Interpret a `Range: bytes=…` header against a blob size (RFC 9110).

    None means "serve the whole blob" (no header, or a form we do not serve
    partially, such as several ranges); unsatisfiable ranges raise.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                raise RangeNotSatisfiable(size)
            if size == 0:
                raise RangeNotSatisfiable(size)
            return ByteRange(max(0, size - suffix), size - 1)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    if end < start:
        return None
    return ByteRange(start, min(end, size - 1))


@dataclass(slots=True)
class BlobRead:
    size: int
    range: ByteRange | None
    reader: BlobReader | None
    redirect: str | None = None


class BlobService:
    """Reads check the repository's readEnabled, mounts its writeEnabled (`locks`, cached per worker)."""

    def __init__(self, metadata: MetadataStore, store: BlobStore, generations: Generations,
                 locks: RepositoryLocks, cache_entries: int = 50_000) -> None:
        self.metadata = metadata
        self.store = store
        self.locks = locks
        # "repository R may read digest D of size S" holds until something is removed.
        self._sizes: FactCache[int] = FactCache(generations, (REMOVALS,), cache_entries)

    async def size(self, registry_id: int, repository: str, digest: str) -> int:
        """The size of a blob the repository links and may be read (blob HEAD: one indexed lookup, cached)."""
        size = await self._size(registry_id, repository, digest)
        await self.locks.check_readable(registry_id, repository)
        return size

    async def _size(self, registry_id: int, repository: str, digest: str) -> int:
        key = (registry_id, repository, digest)
        cached = self._sizes.get(key)
        if cached is not None:
            return cached
        validate_repository_name(repository)
        Digest.parse(digest)
        stamp = self._sizes.stamp()
        size = await blocking(self.metadata.repository_blob_size, registry_id, repository, digest)
        if size is None:
            raise BlobUnknown(detail={"digest": digest})
        self._sizes.put(key, size, stamp)
        return size

    async def open(self, registry_id: int, repository: str, digest: str, range_header: str | None) -> BlobRead:
        await self.locks.check_readable(registry_id, repository)
        size = await self._size(registry_id, repository, digest)
        byte_range = resolve_range(range_header, size)
        redirect = self.store.redirect_url(digest)
        if redirect is not None:
            return BlobRead(size, byte_range, None, redirect)
        try:
            reader = await blocking(self.store.open_read, digest, byte_range.start if byte_range else 0)
        except FileNotFoundError:
            raise BlobUnknown("blob metadata exists but its bytes are missing", {"digest": digest}) from None
        return BlobRead(size, byte_range, reader)

    async def delete(self, registry_id: int, repository: str, digest: str) -> None:
        """Unlink from the repository; the bytes go when no repository links them (garbage collection)."""
        validate_repository_name(repository)
        Digest.parse(digest)
        if not await blocking(self.metadata.unlink_blob, registry_id, repository, digest):
            raise BlobUnknown(detail={"digest": digest})

    async def mount(self, registry_id: int, repository: str, digest: str, source: str | None,
                    may_read: Callable[[str], bool]) -> int | None:
        """Link an existing blob into `repository`; its size, or None when it cannot be mounted.

        The blob must be linked in a repository the caller may read: the source
        when one is named, else any (OCI's automatic content discovery). A write-locked
        `repository` is refused (Denied).
        """
        validate_repository_name(repository)
        await self.locks.check_writable(registry_id, repository)
        Digest.parse(digest)
        if source is not None:
            validate_repository_name(source)
            if not may_read(source):
                return None
            if await blocking(self.metadata.repository_blob_size, registry_id, source, digest) is None:
                return None
        else:
            holders = await blocking(self.metadata.repositories_with_blob, registry_id, digest, 100)
            if not any(may_read(name) for name in holders):
                return None
        if await blocking(self.store.stat, digest) is None:
            return None
        return await blocking(self.metadata.link_blob, registry_id, repository, digest)
