"""Free storage space: the reserve below which new uploads are refused, what a refusal says, and
releasing the bytes of blobs no repository links any more.

A push that runs out of room gets 403 DENIED naming the free and the needed bytes (never a 5xx,
which clients retry). Uploads are refused while free space is below the reserve, so deletes (and,
on SQLite, the database's own writes) still have room to run and give space back. Free space is
read from the storage on each check (one statvfs), so when space returns uploads are accepted
again at once, with no restart.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cargohold.core.errors import Denied
from cargohold.core.ports.blob_store import BlobStore, Capacity

log = logging.getLogger("cargohold.storage")

DEFAULT_RESERVE_BYTES = 256 << 20
DEFAULT_RESERVE_PERCENT = 2.0
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class StorageFull(Denied):
    """403 DENIED: the storage has no room for this write (or only the reserve left)."""


@dataclass(frozen=True, slots=True)
class SpaceStatus:
    total_bytes: int
    free_bytes: int
    reserve_bytes: int

    @property
    def low(self) -> bool:
        """At or below the reserve (a reserve of 0 is reached when nothing is free)."""
        return self.free_bytes <= self.reserve_bytes


def storage_full(status: SpaceStatus | None, needed: int, *, reserve: bool = True) -> StorageFull:
    free = status.free_bytes if status else 0
    kept = status.reserve_bytes if status and reserve else 0
    if kept:
        message = (f"storage full: {free} bytes free, {needed + kept} needed ({needed} for this upload and "
                   f"{kept} kept in reserve so deletes can run); delete images to make room and push again")
    else:
        message = f"storage full: {free} bytes free, {needed} needed for this upload; free space and push again"
    return StorageFull(message, {"free": free, "needed": needed, "reserve": kept})


class UnlinkedBlobs(Protocol):
    def release_unlinked(self, registry_id: int) -> list[tuple[str, int, bool]]:
        """Remove the registry's blob records no repository links, taking their bytes off its usage;
        (digest, size, still recorded by another registry) of each."""


class StorageSpace:
    """The reserve rule for the upload path, readiness, show-usage, and releasing unlinked blobs."""

    def __init__(self, store: BlobStore, *, reserve_bytes: int = DEFAULT_RESERVE_BYTES,
                 reserve_percent: float = DEFAULT_RESERVE_PERCENT,
                 disk_full: Callable[[BaseException], bool] = lambda _e: False,
                 unlinked: UnlinkedBlobs | None = None) -> None:
        self.store = store
        self.reserve_bytes = reserve_bytes
        self.reserve_percent = reserve_percent
        self._disk_full = disk_full  # the metadata store's "database or disk is full"
        self._unlinked = unlinked
        self._was_low = False

    def status(self) -> SpaceStatus | None:
        """Capacity, free space and reserve now; None when the storage has no fixed capacity."""
        capacity: Capacity | None = self.store.capacity()
        if capacity is None:
            return None
        reserve = max(self.reserve_bytes, int(capacity.total_bytes * self.reserve_percent / 100))
        status = SpaceStatus(capacity.total_bytes, capacity.free_bytes, reserve)
        if status.low != self._was_low:
            self._was_low = status.low
            if status.low:
                log.warning("storage low: %d bytes free, at or below the reserve of %d; new uploads are refused until "
                            "space is freed", status.free_bytes, reserve)
            else:
                log.warning("storage recovered: %d bytes free (reserve %d); uploads are accepted again",
                            status.free_bytes, reserve)
        return status

    def check(self, needed: int) -> None:
        """Raise StorageFull unless `needed` more bytes leave more than the reserve free."""
        status = self.status()
        if status is not None and status.free_bytes - needed <= status.reserve_bytes:
            raise storage_full(status, needed)

    def is_out_of_space(self, exc: BaseException) -> bool:
        """Whether a failed write failed for want of space (storage or database)."""
        if isinstance(exc, StorageFull):
            return True
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            return True
        return self._disk_full(exc)

    def refusal(self, exc: BaseException, needed: int) -> StorageFull:
        """The client's error for a write that failed for want of space: the free bytes now (after the
        failed write's bytes were removed) and what the request needed, at least `needed`."""
        if isinstance(exc, StorageFull):
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            return storage_full(self.status(), max(needed, int(detail.get("needed", 0))))
        return storage_full(self.status(), needed, reserve=False)

    def translate(self, exc: BaseException) -> StorageFull | None:
        """Any other write that failed for want of space (a delete, a manifest, a setting): 403, not 500."""
        if not self.is_out_of_space(exc):
            return None
        if isinstance(exc, StorageFull):
            return exc
        status = self.status()
        free = status.free_bytes if status else 0
        return StorageFull(f"storage full: {free} bytes free, not enough to record this change; free space on the "
                           "registry's storage and retry", {"free": free, "needed": None})

    def release_unlinked(self, registry_id: int) -> int:
        """Remove the blobs of a registry that no repository links (after a repository delete);
        the bytes freed. Runs while no commit is between writing a blob and recording it."""
        if self._unlinked is None:
            return 0
        with self.store.releasing():
            released = self._unlinked.release_unlinked(registry_id)
            for digest, _size, elsewhere in released:
                if not elsewhere:
                    self.store.delete(digest)
        freed = sum(size for _, size, elsewhere in released if not elsewhere)
        if released:
            log.info("released %d blobs no repository links (%d bytes freed)", len(released), freed)
        return freed


def readiness(database: Callable[[], object], space: StorageSpace) -> tuple[bool, dict[str, object]]:
    """Whether the node can serve (/readyz): the database answers and the storage can be read.
    Free space below the reserve is `storage: low` and still ready, so reads keep flowing."""
    body: dict[str, object] = {}
    try:
        database()
        body["database"] = "ok"
    except Exception as e:  # any failure means not ready; the reason is shown
        body["database"] = f"unreachable: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}"
    try:
        status = space.status()
        if status is None:
            body["storage"] = "ok"
        else:
            body["storage"] = "low" if status.low else "ok"
            body.update(storage_total_bytes=status.total_bytes, storage_free_bytes=status.free_bytes,
                        storage_reserve_bytes=status.reserve_bytes)
    except OSError as e:
        body["storage"] = f"unreachable: {e.strerror or e}"
    ready = body["database"] == "ok" and body["storage"] in ("ok", "low")
    body["status"] = "ready" if ready else "not ready"
    return ready, body
