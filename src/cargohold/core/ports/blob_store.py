"""The BlobStore protocol every storage driver implements.

Shaped after CNCF Distribution's storage driver: content-addressed blobs plus an
upload area where resumable uploads accumulate until they are committed under
their digest. Methods are synchronous and may block; callers run them in threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Capacity:
    """Size and free space of the storage blobs and uploads are written to."""

    total_bytes: int
    free_bytes: int  # what an unprivileged writer may still use


class BlobReader(Protocol):
    def read(self, n: int) -> bytes: ...

    def close(self) -> None: ...


class UploadWriter(Protocol):
    """Exclusive access to one upload, held until `close()`, whichever process asks.

    The caller reads the upload's acknowledged size from metadata *after*
    opening and calls `resume_at(size)`, which drops bytes never acknowledged.
    Appends need not be durable until `commit_upload`.
    """

    def resume_at(self, size: int) -> None:
        """Position at `size`; raises UploadDamaged when fewer bytes than that survived (power loss)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class UploadDamaged(Exception):
    """The store holds fewer bytes of an upload than were acknowledged."""


class BlobStore(Protocol):
    def stat(self, digest: str) -> int | None:
        """Size of a committed blob, or None if absent."""

    def open_read(self, digest: str, offset: int = 0) -> BlobReader:
        """Reader positioned at `offset`; raises FileNotFoundError when the blob is absent."""

    def delete(self, digest: str) -> None:
        """Remove a committed blob (absent is fine)."""

    def redirect_url(self, digest: str) -> str | None:
        """A URL clients may fetch the blob from directly, when the driver has one."""

    def start_upload(self, upload_id: str) -> None: ...

    def open_upload(self, upload_id: str) -> UploadWriter:
        """Lock the upload for writing; raises FileNotFoundError when it does not exist."""

    def read_upload(self, upload_id: str, length: int) -> Iterator[bytes]:
        """The first `length` bytes of an upload, for re-hashing when no hash state was kept."""

    def commit_upload(self, upload_id: str, digest: str, length: int) -> None:
        """Make the first `length` bytes of the upload durable as blob `digest`, then drop the upload."""

    def delete_upload(self, upload_id: str) -> None: ...

    def list_uploads(self) -> Iterator[tuple[str, float]]:
        """(upload id, last modified epoch seconds) of every upload the store holds."""

    def clean_temporary(self) -> int:
        """Remove leftovers of interrupted writes; returns how many were removed."""

    def capacity(self) -> Capacity | None:
        """The storage's size and free space now; None when it has no fixed capacity (object storage)."""

    def committing(self) -> AbstractContextManager[None]:
        """Held (shared) from committing an upload until its blob is recorded, so that `releasing`
        never removes the bytes of a blob that a commit is about to record."""

    def releasing(self) -> AbstractContextManager[None]:
        """Held (exclusive) while blobs no repository links are removed (waits for running commits)."""
