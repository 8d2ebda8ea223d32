"""Blob uploads: resumable, shared by every worker, surviving restarts.

State lives in two places with one rule between them: the metadata row's
`size` is the truth; bytes past it in the store were never acknowledged and
are dropped by the next writer. The running hash state is stored with the
size, so any worker can continue an upload without re-reading it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from cargohold.core.attributes import RepositoryLocks
from cargohold.core.blocking import blocking
from cargohold.core.digests import Digest, ResumableHasher
from cargohold.core.errors import BlobUploadInvalid, BlobUploadUnknown, DigestInvalid, RangeInvalid
from cargohold.core.names import validate_repository_name
from cargohold.core.ports.blob_store import BlobStore, UploadDamaged, UploadWriter
from cargohold.core.ports.metadata_store import MetadataStore
from cargohold.core.ports.records import UploadRecord
from cargohold.core.ports.registry_store import QuotaExceeded
from cargohold.core.storage_space import StorageSpace
from cargohold.core.upload_body import Body, drain
from cargohold.core.upload_caps import UploadCaps
from cargohold.core.usage import QuotaGuard, StorageQuotaExceeded, record_blob


@dataclass(frozen=True, slots=True)
class UploadRef:
    """Which upload a request names, and who is asking (uploads are bound to both)."""

    registry_id: int
    repository: str
    upload_id: str
    owner: str | None


@dataclass(frozen=True, slots=True)
class CommittedBlob:
    digest: str
    size: int


def _is_upload_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _check_upload_id(upload_id: str) -> None:
    if not _is_upload_id(upload_id):
        raise BlobUploadUnknown(detail={"upload": upload_id[:64]})


def _new_hasher(record: UploadRecord) -> ResumableHasher | None:
    if record.size == 0:
        return ResumableHasher(record.hash_algorithm)
    return ResumableHasher.resume(record.hash_algorithm, record.size, record.hash_state)


@dataclass(slots=True)
class _Locked:
    """An upload held for writing (used from worker threads): its acknowledged record and running hash."""

    writer: UploadWriter
    record: UploadRecord
    hasher: ResumableHasher | None
    written: int = 0
    # The registry's hard quota as (bytes used, quota) when it has one: an upload that alone
    # outgrows the room left is refused as soon as it does, not after the client sent it all.
    quota: tuple[int, int] | None = None
    refuse: Callable[[int, int, int, int], StorageQuotaExceeded] | None = None
    space: StorageSpace | None = None  # the free-space reserve (core/storage_space.py)

    def write(self, parts: list[bytes]) -> None:
        if self.quota is not None and self.refuse is not None:
            used, quota = self.quota
            size = self.size + sum(len(p) for p in parts)
            if used + size > quota:
                raise self.refuse(self.record.registry_id, used, quota, size)
        if self.space is not None and parts:
            self.space.check(sum(len(p) for p in parts))
        for data in parts:
            if self.hasher is not None:
                self.hasher.update(data)
            self.writer.write(data)
            self.written += len(data)

    @property
    def size(self) -> int:
        return self.record.size + self.written


class UploadService:
    """Each request does its store and metadata work in as few worker-thread calls as it can:
    one for a chunk or a completion that fits in a batch, and for larger bodies one to lock and
    position the upload, the writes (overlapping with receiving), and one to finish."""

    def __init__(self, metadata: MetadataStore, store: BlobStore, locks: RepositoryLocks,
                 quota: QuotaGuard | None = None, caps: UploadCaps | None = None,
                 space: StorageSpace | None = None) -> None:
        self.metadata = metadata
        self.store = store
        self.locks = locks  # a repository with writeEnabled false takes no new upload (start, monolithic)
        self.quota = quota  # the hard storage quota (core/usage.py); None: not enforced
        self.caps = caps  # open sessions per repository and identity (core/upload_caps.py); None: uncapped
        self.space = space  # free space (core/storage_space.py); None: a full disk is not told apart

    async def _out_of_space(self, exc: Exception, ref: UploadRef | None, needed: int,
                            body: AsyncIterator[bytes] | None = None) -> Exception:
        """What a failed write raises: for want of space, StorageFull (403) once the bytes the failure
        left past the acknowledged size are gone (the session stays, resumable or cancellable)."""
        if self.space is None or not self.space.is_out_of_space(exc):
            return exc
        if ref is not None:
            await blocking(self._drop_unacknowledged, ref)
        await drain(body)
        return self.space.refusal(exc, needed)

    def _drop_unacknowledged(self, ref: UploadRef) -> None:
        try:
            writer = self.store.open_upload(ref.upload_id)
        except FileNotFoundError:  # committed, then the record failed: no session may name missing bytes
            with contextlib.suppress(Exception):
                self.metadata.delete_upload(ref.upload_id)
            return
        try:
            with contextlib.suppress(BlobUploadUnknown, UploadDamaged):
                writer.resume_at(self._record(ref).size)
        finally:
            writer.close()

    def _with_quota(self, locked: _Locked) -> _Locked:
        locked.space = self.space
        if self.quota is not None:
            locked.quota = self.quota.room(locked.record.registry_id)
            locked.refuse = self.quota.refuse
        return locked

    async def _dropped_on_quota(self, upload_id: str, exc: StorageQuotaExceeded) -> StorageQuotaExceeded:
        """An upload the quota refused can never complete: remove its session and bytes."""
        await blocking(self.metadata.delete_upload, upload_id)
        await blocking(self.store.delete_upload, upload_id)
        return exc

    async def start(self, registry_id: int, repository: str, algorithm: str = "sha256",
                    owner: str | None = None) -> UploadRecord:
        validate_repository_name(repository)
        await self.locks.check_writable(registry_id, repository)
        ts = datetime.now(UTC)
        record = UploadRecord(str(uuid.uuid4()), registry_id, repository, 0, algorithm, None, ts, ts, owner)
        try:
            if self.space is not None:
                self.space.check(0)
            await blocking(self._create, record)
        except Exception as e:
            raise await self._out_of_space(e, None, 0) from None
        return record

    async def status(self, registry_id: int, repository: str, upload_id: str, owner: str | None = None
                     ) -> UploadRecord:
        validate_repository_name(repository)
        _check_upload_id(upload_id)
        return await blocking(self._record, UploadRef(registry_id, repository, upload_id, owner))

    async def append(
        self, registry_id: int, repository: str, upload_id: str, body: AsyncIterator[bytes],
        start: int | None = None, length: int | None = None, owner: str | None = None,
    ) -> UploadRecord:
        """Append a chunk; `start` (from Content-Range) must equal the current size."""
        validate_repository_name(repository)
        _check_upload_id(upload_id)
        ref = UploadRef(registry_id, repository, upload_id, owner)
        received = Body(body, length)
        first = await received.batch()
        try:
            if received.done:
                return await blocking(self._append_whole, ref, start, received, first)
            locked = await blocking(self._lock_and_write, ref, start, first)
            last = await self._receive(locked, received)
            return await blocking(self._acknowledge, locked, received, last)
        except StorageQuotaExceeded as e:
            raise await self._dropped_on_quota(upload_id, e) from None
        except Exception as e:
            raise await self._out_of_space(e, ref, max(length or 0, received.received), body) from None

    async def complete(
        self, registry_id: int, repository: str, upload_id: str, digest: str,
        body: AsyncIterator[bytes] | None = None, start: int | None = None, length: int | None = None,
        owner: str | None = None,
    ) -> CommittedBlob:
        """Append the final chunk (if any), verify the digest, and commit the blob."""
        expected = Digest.parse(digest)
        validate_repository_name(repository)
        _check_upload_id(upload_id)
        ref = UploadRef(registry_id, repository, upload_id, owner)
        received = Body(body, length)
        first = await received.batch()
        try:
            if received.done:
                total = await blocking(self._complete_whole, ref, start, received,
                                       first, expected)
            else:
                locked = await blocking(self._lock_and_write, ref, start, first)
                last = await self._receive(locked, received)
                total = await blocking(self._finish_and_commit, locked, received, last, expected)
        except StorageQuotaExceeded as e:
            raise await self._dropped_on_quota(upload_id, e) from None
        except Exception as e:
            raise await self._out_of_space(e, ref, max(length or 0, received.received), body) from None
        return CommittedBlob(str(expected), total)

    async def monolithic(
        self, registry_id: int, repository: str, digest: str, body: AsyncIterator[bytes], length: int | None,
    ) -> CommittedBlob:
        """POST ?digest= with the whole blob; every failure path removes the upload's file."""
        try:
            return await self._monolithic(registry_id, repository, digest, body, length)
        except StorageQuotaExceeded:
            raise
        except Exception as e:
            raise await self._out_of_space(e, None, length or 0, body) from None

    async def _monolithic(
        self, registry_id: int, repository: str, digest: str, body: AsyncIterator[bytes], length: int | None,
    ) -> CommittedBlob:
        """POST ?digest= with the whole blob: one request, so no resumable state is recorded."""
        validate_repository_name(repository)
        await self.locks.check_writable(registry_id, repository)
        expected = Digest.parse(digest)
        ts = datetime.now(UTC)
        record = UploadRecord(str(uuid.uuid4()), registry_id, repository, 0, expected.algorithm, None, ts, ts)
        received = Body(body, length)
        first = await received.batch()
        if received.done:
            total = await blocking(self._monolithic_whole, record, received, first, expected)
        else:
            locked = await blocking(self._start_and_write, record, first)
            try:
                last = await self._receive(locked, received)
            except BaseException:
                await blocking(self.store.delete_upload, record.id)
                raise
            total = await blocking(self._finish_monolithic, locked, received, last, expected)
        return CommittedBlob(str(expected), total)

    async def cancel(self, registry_id: int, repository: str, upload_id: str, owner: str | None = None) -> None:
        validate_repository_name(repository)
        _check_upload_id(upload_id)
        await blocking(self._cancel, UploadRef(registry_id, repository, upload_id, owner))

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

    # --- event-loop side of a streamed body ------------------------------------------------

    async def _receive(self, locked: _Locked, received: Body) -> list[bytes]:
        """Write batches as they arrive (receiving overlaps with hashing and writing in a worker
        thread); the last batch is returned for the finishing call. Closes the writer on failure."""
        pending: asyncio.Future[None] | None = None
        try:
            while True:
                parts = await received.batch()
                if pending is not None:
                    await pending
                    pending = None
                if received.done:
                    return parts
                pending = asyncio.ensure_future(blocking(locked.write, parts))
        except BaseException:
            if pending is not None:
                with contextlib.suppress(BaseException):
                    await pending  # never close the writer under a write still running
            await blocking(locked.writer.close)
            raise

    # --- worker-thread side (blocking) -------------------------------------------------------

    def _create(self, record: UploadRecord) -> None:
        if self.caps is not None:
            self.caps.check(record.registry_id, record.repository, record.owner)
        self.store.start_upload(record.id)
        try:
            self.metadata.create_upload(record)
        except BaseException:  # no file without its session
            self.store.delete_upload(record.id)
            raise

    def _record(self, ref: UploadRef) -> UploadRecord:
        record = self.metadata.get_upload(ref.registry_id, ref.repository, ref.upload_id)
        # An upload belongs to the repository and the identity that started it; to anyone else it does not exist.
        if record is None or (record.owner is not None and record.owner != ref.owner):
            raise BlobUploadUnknown(detail={"upload": ref.upload_id})
        return record

    def _lock(self, ref: UploadRef, start: int | None) -> _Locked:
        """Lock the upload, read its acknowledged size under the lock, and drop bytes past it."""
        try:
            writer = self.store.open_upload(ref.upload_id)
        except FileNotFoundError:
            raise BlobUploadUnknown(detail={"upload": ref.upload_id}) from None
        try:
            record = self._record(ref)
            if start is not None and start != record.size:
                raise RangeInvalid(detail={"size": record.size, "start": start})
            self._resume(writer, record)
            return self._with_quota(_Locked(writer, record, _new_hasher(record)))
        except BaseException:
            writer.close()
            raise

    @staticmethod
    def _resume(writer: UploadWriter, record: UploadRecord) -> None:
        try:
            writer.resume_at(record.size)
        except UploadDamaged:
            raise BlobUploadInvalid("the upload lost acknowledged bytes (storage failure); start it again",
                                    {"upload": record.id}) from None

    def _lock_and_write(self, ref: UploadRef, start: int | None,
                        parts: list[bytes]) -> _Locked:
        locked = self._lock(ref, start)
        try:
            locked.write(parts)
        except BaseException:
            locked.writer.close()
            raise
        return locked

    def _append_whole(self, ref: UploadRef, start: int | None,
                      received: Body, parts: list[bytes]) -> UploadRecord:
        locked = self._lock(ref, start)
        try:
            received.check()
            locked.write(parts)
            return self._advance(locked)
        finally:
            locked.writer.close()

    def _acknowledge(self, locked: _Locked, received: Body, last: list[bytes]) -> UploadRecord:
        try:
            received.check()
            locked.write(last)
            return self._advance(locked)
        finally:
            locked.writer.close()

    def _advance(self, locked: _Locked) -> UploadRecord:
        """Acknowledge what was written (still under the lock)."""
        record = locked.record
        state = locked.hasher.state() if locked.hasher is not None else None
        if not self.metadata.advance_upload(record.id, record.size, locked.size, state):
            raise RangeInvalid("the upload moved while this chunk was written")
        return replace(record, size=locked.size, hash_state=state)

    def _verify(self, locked: _Locked, received: Body, last: list[bytes], expected: Digest) -> int:
        """Write the final chunk and check the digest of everything; the total size. Closes the writer."""
        try:
            received.check()
            locked.write(last)
            total = locked.size
            actual = self._final_digest(locked, expected.algorithm, total)
            if actual != expected:
                # The final chunk is not acknowledged: the upload stays as it was.
                raise DigestInvalid(detail={"expected": str(expected), "actual": str(actual)})
            return total
        finally:
            locked.writer.close()

    def _final_digest(self, locked: _Locked, algorithm: str, total: int) -> Digest:
        hasher = locked.hasher
        if hasher is not None and hasher.algorithm == algorithm:
            return hasher.digest()
        h = ResumableHasher(algorithm)
        for chunk in self.store.read_upload(locked.record.id, total):
            h.update(chunk)
        return h.digest()

    def _commit(self, record: UploadRecord, digest: Digest, total: int, finished_upload: str | None) -> None:
        with self.store.committing():  # the bytes stay until recorded (storage_space.release_unlinked)
            self.store.commit_upload(record.id, str(digest), total)
            self._add_blob(record, digest, total, finished_upload)

    def _add_blob(self, record: UploadRecord, digest: Digest, total: int, finished_upload: str | None) -> None:
        """Record the blob; past the hard quota nothing is recorded (the content-addressed file may stay,
        unreferenced) and the caller removes the upload session."""
        try:
            record_blob(self.metadata, record.registry_id, record.repository, str(digest), total, finished_upload)
        except QuotaExceeded as e:
            if self.quota is None:
                raise StorageQuotaExceeded(f"storage quota exceeded: {e}") from None
            raise self.quota.translate(record.registry_id, e) from None

    def _complete_whole(self, ref: UploadRef, start: int | None,
                        received: Body, parts: list[bytes], expected: Digest) -> int:
        locked = self._lock(ref, start)
        return self._finish_and_commit(locked, received, parts, expected)

    def _finish_and_commit(self, locked: _Locked, received: Body, last: list[bytes], expected: Digest) -> int:
        total = self._verify(locked, received, last, expected)
        self._commit(locked.record, expected, total, locked.record.id)
        return total

    def _start_and_write(self, record: UploadRecord, parts: list[bytes]) -> _Locked:
        """A monolithic push's upload file, created, locked and holding the first batch."""
        self.store.start_upload(record.id)
        try:
            writer = self.store.open_upload(record.id)
            locked = self._with_quota(_Locked(writer, record, _new_hasher(record)))
            try:
                self._resume(writer, record)
                locked.write(parts)
            except BaseException:
                writer.close()
                raise
            return locked
        except BaseException:
            self.store.delete_upload(record.id)
            raise

    def _monolithic_whole(self, record: UploadRecord, received: Body, parts: list[bytes], expected: Digest) -> int:
        locked = self._start_and_write(record, [])
        return self._finish_monolithic(locked, received, parts, expected)

    def _finish_monolithic(self, locked: _Locked, received: Body, last: list[bytes], expected: Digest) -> int:
        record = locked.record
        with self.store.committing():
            try:
                total = self._verify(locked, received, last, expected)
                self.store.commit_upload(record.id, str(expected), total)
            except BaseException:
                self.store.delete_upload(record.id)
                raise
            self._add_blob(record, expected, total, None)
        return total

    def _cancel(self, ref: UploadRef) -> None:
        self._record(ref)
        self.metadata.delete_upload(ref.upload_id)
        self.store.delete_upload(ref.upload_id)
