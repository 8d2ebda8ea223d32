"""Filesystem BlobStore.

Layout under the root:
  blobs/<algorithm>/<hex[:2]>/<hex>   committed blobs, immutable
  uploads/<id>                        resumable upload bytes
Commit = fsync the upload file, hard-link it into place (atomic; an existing
blob with that digest wins, its bytes are identical), fsync the directory.
A crash at any instant leaves either no blob or a complete one. Appends are
not fsynced: after a power loss an upload shorter than acknowledged is
reported damaged, never silently padded.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from cargohold.storage.base import UploadDamaged

CHUNK = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileUploadWriter:
    def __init__(self, path: Path) -> None:
        self._file = open(path, "r+b", buffering=0)  # noqa: SIM115 - closed in close()
        # One writer at a time per upload, whichever worker holds the request.
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)

    def resume_at(self, size: int) -> None:
        if os.fstat(self._file.fileno()).st_size < size:
            raise UploadDamaged(f"upload holds fewer than the {size} acknowledged bytes")
        self._file.truncate(size)
        self._file.seek(size)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = self._file.write(view)
            view = view[n or 0:]

    def close(self) -> None:
        self._file.close()


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)

    def _blob_path(self, digest: str) -> Path:
        algorithm, _, hexpart = digest.partition(":")
        return self._blobs / algorithm / hexpart[:2] / hexpart

    def _upload_path(self, upload_id: str) -> Path:
        if not upload_id.replace("-", "").isalnum():
            raise FileNotFoundError(upload_id)
        return self._uploads / upload_id

    def stat(self, digest: str) -> int | None:
        try:
            return self._blob_path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def open_read(self, digest: str, offset: int = 0) -> io.FileIO:
        f = open(self._blob_path(digest), "rb", buffering=0)  # noqa: SIM115 - returned to caller
        if offset:
            f.seek(offset)
        return f

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._blob_path(digest).unlink()

    def redirect_url(self, digest: str) -> str | None:
        return None

    def start_upload(self, upload_id: str) -> None:
        os.close(os.open(self._upload_path(upload_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    def open_upload(self, upload_id: str) -> _FileUploadWriter:
        return _FileUploadWriter(self._upload_path(upload_id))

    def read_upload(self, upload_id: str, length: int) -> Iterator[bytes]:
        with open(self._upload_path(upload_id), "rb") as f:
            remaining = length
            while remaining > 0:
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    def commit_upload(self, upload_id: str, digest: str, length: int) -> None:
        data = self._upload_path(upload_id)
        with open(data, "r+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            f.truncate(length)
            os.fsync(f.fileno())
        target = self._blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(data, target)
            _fsync_dir(target.parent)
        self.delete_upload(upload_id)

    def delete_upload(self, upload_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._upload_path(upload_id).unlink()

    def list_uploads(self) -> Iterator[tuple[str, float]]:
        for entry in os.scandir(self._uploads):
            if entry.is_file():
                with contextlib.suppress(FileNotFoundError):
                    yield entry.name, entry.stat().st_mtime

    def clean_temporary(self) -> int:
        """Uploads are the only temporary data; their expiry is the upload service's call.

        Removes what is not an upload file (e.g. directories of an older layout).
        """
        removed = 0
        for entry in os.scandir(self._uploads):
            if entry.is_dir():
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
        return removed
