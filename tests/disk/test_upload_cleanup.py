"""A POST whose session row cannot be written (the database's disk is full) leaves no upload file behind,
and the client gets the storage-full 403, not a 5xx (issue 9: empty files whose DELETE said 404)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cargohold.core.attributes import RepositoryLocks
from cargohold.core.ports.generations import LocalGenerations
from cargohold.core.storage_space import StorageFull, StorageSpace
from cargohold.core.uploads import UploadService
from cargohold.metadata.space_sql import is_disk_full
from cargohold.storage.filesystem import FilesystemBlobStore


class _FullDatabase:
    def repository_attributes(self, _registry_id: int, _repository: str) -> None:
        return None  # no such repository yet: nothing locks it

    def create_upload(self, _record: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")


def test_a_session_that_cannot_be_recorded_leaves_no_file(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "storage")
    space = StorageSpace(store, reserve_bytes=0, reserve_percent=0, disk_full=is_disk_full)
    database = _FullDatabase()
    locks = RepositoryLocks(database, LocalGenerations())  # type: ignore[arg-type]
    uploads = UploadService(database, store, locks, space=space)  # type: ignore[arg-type]
    with pytest.raises(StorageFull) as refused:
        asyncio.run(uploads.start(1, "app"))
    assert refused.value.message.startswith("storage full: ")
    assert os.listdir(tmp_path / "storage" / "uploads") == []
