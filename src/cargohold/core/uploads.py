"""Blob uploads: resumable, shared by every worker, surviving restarts.

State lives in two places with one rule between them: the metadata row's
`size` is the truth; bytes past it in the store were never acknowledged and
are dropped by the next writer. The running hash state is stored with the
size, so any worker can continue an upload without re-reading it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from cargohold.core.blocking import blocking
from cargohold.core.digests import Digest, ResumableHasher
from cargohold.core.errors import BlobUploadInvalid, BlobUploadUnknown, DigestInvalid, RangeInvalid, SizeInvalid
from cargohold.core.names import validate_repository_name
from cargohold.metadata.records import UploadRecord
from cargohold.metadata.store import MetadataStore
from cargohold.storage.base import BlobStore, UploadDamaged, UploadWriter

BATCH = 1 << 20  # bytes handed to the writer thread at a time


@dataclass(frozen=True, slots=True)
class CommittedBlob:
    digest: str
    size: int


def _is_upload_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _new_hasher(record: UploadRecord) -> ResumableHasher | None:
    if record.size == 0:
        return ResumableHasher(record.hash_algorithm)
    return ResumableHasher.resume(record.hash_algorithm, record.size, record.hash_state)


def _write(writer: UploadWriter, hasher: ResumableHasher | None, data: bytes) -> None:
    if hasher is not None:
        hasher.update(data)
    writer.write(data)


class UploadService:
    def __init__(self, metadata: MetadataStore, store: BlobStore) -> None:
        self.metadata = metadata
        self.store = store

    async def start(self, registry_id: int, repository: str, algorithm: str = "sha256") -> UploadRecord:
        validate_repository_name(repository)
        ts = datetime.now(UTC)
        record = UploadRecord(str(uuid.uuid4()), registry_id, repository, 0, algorithm, None, ts, ts)
        await blocking(self.store.start_upload, record.id)
        await blocking(self.metadata.create_upload, record)
        return record

    async def status(self, registry_id: int, repository: str, upload_id: str) -> UploadRecord:
        validate_repository_name(repository)
        if not _is_upload_id(upload_id):
            raise BlobUploadUnknown(detail={"upload": upload_id[:64]})
        record = await blocking(self.metadata.get_upload, registry_id, repository, upload_id)
        if record is None:
            raise BlobUploadUnknown(detail={"upload": upload_id})
        return record

    async def append(
        self, registry_id: int, repository: str, upload_id: str, body: AsyncIterator[bytes],
        start: int | None = None, length: int | None = None,
    ) -> UploadRecord:
        """Append a chunk; `start` (from Content-Range) must equal the current size."""
        validate_repository_name(repository)
        writer = await self._open(upload_id)
        try:
            record = await self.status(registry_id, repository, upload_id)  # read under the lock
            if start is not None and start != record.size:
                raise RangeInvalid(detail={"size": record.size, "start": start})
            hasher, written = await self._stream(writer, record, body, length)
            new_size = record.size + written
            state = hasher.state() if hasher is not None else None
            if not await blocking(self.metadata.advance_upload, upload_id, record.size, new_size, state):
                raise RangeInvalid("the upload moved while this chunk was written")
            return replace(record, size=new_size, hash_state=state)
        finally:
            await blocking(writer.close)

    async def complete(
        self, registry_id: int, repository: str, upload_id: str, digest: str,
        body: AsyncIterator[bytes] | None = None, start: int | None = None, length: int | None = None,
    ) -> CommittedBlob:
        """Append the final chunk (if any), verify the digest, and commit the blob."""
        expected = Digest.parse(digest)
        validate_repository_name(repository)
        writer = await self._open(upload_id)
        try:
            record = await self.status(registry_id, repository, upload_id)
            if start is not None and start != record.size:
                raise RangeInvalid(detail={"size": record.size, "start": start})
            total = await self._finish(writer, record, expected, body, length)
        finally:
            await blocking(writer.close)
        await blocking(self.store.commit_upload, upload_id, str(expected), total)
        await blocking(self.metadata.add_blob, registry_id, repository, str(expected), total, upload_id)
        return CommittedBlob(str(expected), total)

    async def monolithic(
        self, registry_id: int, repository: str, digest: str, body: AsyncIterator[bytes], length: int | None,
    ) -> CommittedBlob:
        """POST ?digest= with the whole blob: one request, so no resumable state is recorded."""
        expected = Digest.parse(digest)
        validate_repository_name(repository)
        ts = datetime.now(UTC)
        record = UploadRecord(str(uuid.uuid4()), registry_id, repository, 0, expected.algorithm, None, ts, ts)
        await blocking(self.store.start_upload, record.id)
        try:
            writer = await self._open(record.id)
            try:
                total = await self._finish(writer, record, expected, body, length)
            finally:
                await blocking(writer.close)
            await blocking(self.store.commit_upload, record.id, str(expected), total)
        except BaseException:
            await blocking(self.store.delete_upload, record.id)
            raise
        await blocking(self.metadata.add_blob, registry_id, repository, str(expected), total)
        return CommittedBlob(str(expected), total)

    async def cancel(self, registry_id: int, repository: str, upload_id: str) -> None:
        await self.status(registry_id, repository, upload_id)
        await blocking(self.metadata.delete_upload, upload_id)
        await blocking(self.store.delete_upload, upload_id)

    async def expire(self, max_idle: timedelta) -> int:
        """Drop uploads idle longer than `max_idle`, and upload bytes no row claims."""
        cutoff = datetime.now(UTC) - max_idle
        removed = 0
        for upload_id in await blocking(self.metadata.uploads_idle_since, cutoff):
            await blocking(self.metadata.delete_upload, upload_id)
            await blocking(self.store.delete_upload, upload_id)
            removed += 1
        for upload_id, mtime in await blocking(lambda: list(self.store.list_uploads())):
            if mtime < cutoff.timestamp() and not await blocking(self.metadata.upload_exists, upload_id):
                await blocking(self.store.delete_upload, upload_id)
                removed += 1
        return removed

    # --- internals --------------------------------------------------------------------------

    async def _open(self, upload_id: str) -> UploadWriter:
        if not _is_upload_id(upload_id):
            raise BlobUploadUnknown(detail={"upload": upload_id[:64]})
        try:
            return await blocking(self.store.open_upload, upload_id)
        except FileNotFoundError:
            raise BlobUploadUnknown(detail={"upload": upload_id}) from None

    async def _finish(
        self, writer: UploadWriter, record: UploadRecord, expected: Digest,
        body: AsyncIterator[bytes] | None, length: int | None,
    ) -> int:
        """Write the final chunk and check the digest of everything; the total size."""
        hasher, written = await self._stream(writer, record, body, length)
        total = record.size + written
        actual = await self._final_digest(record.id, hasher, expected.algorithm, total)
        if actual != expected:
            # The final chunk is not acknowledged: the upload stays as it was.
            raise DigestInvalid(detail={"expected": str(expected), "actual": str(actual)})
        return total

    async def _stream(
        self, writer: UploadWriter, record: UploadRecord, body: AsyncIterator[bytes] | None, length: int | None,
    ) -> tuple[ResumableHasher | None, int]:
        """Write `body` after the acknowledged bytes, hashing on the way.

        Receiving (event loop) overlaps with hashing and writing (a worker
        thread): one batch is in flight while the next one fills.
        """
        try:
            await blocking(writer.resume_at, record.size)
        except UploadDamaged:
            raise BlobUploadInvalid("the upload lost acknowledged bytes (storage failure); start it again",
                                    {"upload": record.id}) from None
        hasher = _new_hasher(record)
        written = 0
        if body is not None:
            pending: asyncio.Future[None] | None = None
            parts: list[bytes] = []
            buffered = 0
            async for chunk in body:
                if not chunk:
                    continue
                parts.append(chunk)
                buffered += len(chunk)
                written += len(chunk)
                if length is not None and written > length:
                    break
                if buffered >= BATCH:
                    if pending is not None:
                        await pending
                    data = b"".join(parts)
                    parts.clear()
                    buffered = 0
                    pending = asyncio.ensure_future(blocking(_write, writer, hasher, data))
            if pending is not None:
                await pending
            if parts:
                await blocking(_write, writer, hasher, b"".join(parts))
        if length is not None and written != length:
            raise SizeInvalid(f"received {written} bytes but Content-Length said {length}")
        return hasher, written

    async def _final_digest(
        self, upload_id: str, hasher: ResumableHasher | None, algorithm: str, total: int
    ) -> Digest:
        if hasher is not None and hasher.algorithm == algorithm:
            return hasher.digest()

        def rehash() -> Digest:
            h = ResumableHasher(algorithm)
            for chunk in self.store.read_upload(upload_id, total):
                h.update(chunk)
            return h.digest()

        return await blocking(rehash)
