"""Filesystem BlobStore.

Layout under the root:
  blobs/<algorithm>/<hex[:2]>/<hex>   committed blobs, immutable
  uploads/<id>/data                   resumable upload bytes
Commit = fsync the upload file, hard-link it into place (atomic; an existing
blob with that digest wins, its bytes are identical), fsync the directory.
A crash at any instant leaves either no blob or a complete one.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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

    def truncate(self, size: int) -> None:
        self._file.truncate(size)
        self._file.seek(size)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = self._file.write(view)
            view = view[n or 0:]

    def sync(self) -> None:
        os.fdatasync(self._file.fileno())

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

    def _upload_dir(self, upload_id: str) -> Path:
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
        d = self._upload_dir(upload_id)
        d.mkdir()
        (d / "data").touch()

    def open_upload(self, upload_id: str) -> _FileUploadWriter:
        return _FileUploadWriter(self._upload_dir(upload_id) / "data")

    def read_upload(self, upload_id: str, length: int) -> Iterator[bytes]:
        with open(self._upload_dir(upload_id) / "data", "rb") as f:
            remaining = length
            while remaining > 0:
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    def commit_upload(self, upload_id: str, digest: str, length: int) -> None:
        data = self._upload_dir(upload_id) / "data"
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
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    def list_uploads(self) -> Iterator[tuple[str, float]]:
        for entry in os.scandir(self._uploads):
            if entry.is_dir():
                with contextlib.suppress(FileNotFoundError):
                    yield entry.name, entry.stat().st_mtime

    def clean_temporary(self) -> int:
        """Uploads are the only temporary data; their expiry is the upload service's call."""
        removed = 0
        for entry in os.scandir(self._uploads):
            if not entry.is_dir():
                os.unlink(entry.path)
                removed += 1
        return removed
