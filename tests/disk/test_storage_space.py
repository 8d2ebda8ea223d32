"""The free-space rule (core/storage_space.py) without a server: the reserve, what a refusal says, which
failures count as a full disk, and readiness."""

from __future__ import annotations

import errno
import sqlite3
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from cargohold.core.ports.blob_store import Capacity
from cargohold.core.storage_space import StorageFull, StorageSpace, readiness
from cargohold.metadata.space_sql import is_disk_full

GIB = 1 << 30


class _Disk:
    """Just enough of a BlobStore: a capacity that the test sets."""

    def __init__(self, total: int, free: int) -> None:
        self.capacity_now: Capacity | None = Capacity(total, free)

    def capacity(self) -> Capacity | None:
        return self.capacity_now

    def releasing(self) -> AbstractContextManager[None]:
        return nullcontext()


def _space(total: int, free: int, **kwargs: Any) -> tuple[StorageSpace, _Disk]:
    disk = _Disk(total, free)
    return StorageSpace(disk, **kwargs), disk  # type: ignore[arg-type]


def test_the_default_reserve_is_256_mib_or_2_percent_whichever_is_larger() -> None:
    small, _ = _space(4 * GIB, GIB)
    large, _ = _space(100 * GIB, GIB)
    assert small.status().reserve_bytes == 256 << 20  # type: ignore[union-attr]
    assert large.status().reserve_bytes == 2 * GIB  # type: ignore[union-attr]


def test_uploads_are_refused_at_the_reserve_naming_free_and_needed_bytes_and_accepted_when_space_returns() -> None:
    space, disk = _space(10 * GIB, 300 << 20, reserve_percent=0)
    space.check(40 << 20)
    with pytest.raises(StorageFull) as refused:
        space.check(50 << 20)
    assert refused.value.code == "DENIED"
    assert refused.value.message == (
        f"storage full: {300 << 20} bytes free, {(50 << 20) + (256 << 20)} needed ({50 << 20} for this upload and "
        f"{256 << 20} kept in reserve so deletes can run); delete images to make room and push again")
    assert refused.value.detail == {"free": 300 << 20, "needed": 50 << 20, "reserve": 256 << 20}
    disk.capacity_now = Capacity(10 * GIB, GIB)  # a delete, GC or an operator freed space
    space.check(50 << 20)


def test_no_fixed_capacity_means_no_reserve() -> None:
    space, disk = _space(1, 0)
    disk.capacity_now = None
    space.check(10 * GIB)
    assert readiness(lambda: None, space) == (True, {"database": "ok", "storage": "ok", "status": "ready"})


def test_a_full_disk_is_told_apart_from_other_failures() -> None:
    space, _ = _space(GIB, 0, disk_full=is_disk_full)
    assert space.is_out_of_space(OSError(errno.ENOSPC, "No space left on device"))
    assert space.is_out_of_space(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not space.is_out_of_space(OSError(errno.EIO, "Input/output error"))
    full = sqlite3.OperationalError("database or disk is full")
    assert space.is_out_of_space(full)
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = full
    assert space.is_out_of_space(wrapped)
    assert not space.is_out_of_space(sqlite3.OperationalError("database is locked"))
    translated = space.translate(OSError(errno.ENOSPC, "No space left on device"))
    assert translated is not None and translated.detail == {"free": 0, "needed": None}
    assert space.translate(ValueError("bad")) is None


def test_readiness_is_200_when_low_and_503_when_the_database_does_not_answer() -> None:
    space, _ = _space(GIB, 1 << 20)

    def down() -> None:
        raise ConnectionError("connection refused")

    ready, body = readiness(lambda: None, space)
    assert ready and body["storage"] == "low" and body["storage_free_bytes"] == 1 << 20
    ready, body = readiness(down, space)
    assert not ready and body["database"] == "unreachable: connection refused" and body["status"] == "not ready"
