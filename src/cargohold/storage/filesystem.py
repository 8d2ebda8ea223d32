"""Filesystem BlobStore.

Layout under the root:
  blobs/<algorithm>/<hex[:2]>/<hex>   committed blobs, immutable
  uploads/<id>                        resumable upload bytes
  .release.lock                       flock: commits shared, releases of unlinked blobs exclusive
Commit = fsync the upload file, hard-link it into place (atomic; an existing
blob with that digest wins, its bytes are identical), fsync the directory.
A crash at any instant leaves either no blob or a complete one. Appends are
not fsynced: after a power loss an upload shorter than acknowledged is
reported damaged, never silently padded.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import io
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from cargohold.core.ports.blob_store import Capacity, UploadDamaged

CHUNK = 1 << 20
WRITEBACK_EVERY = 8 << 20  # start writing an upload's bytes back to disk each time this much was appended


def _load_sync_file_range() -> Callable[[int, int, int], None] | None:
    """Linux sync_file_range(SYNC_FILE_RANGE_WRITE): start writeback of a range without waiting.

    Appends stay non-durable; this only lets the disk work while the body is still
    arriving, so the fsync at commit finds little left to write. None elsewhere.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int

    def start_writeback(fd: int, offset: int, length: int) -> None:
        fn(fd, offset, length, 2)  # SYNC_FILE_RANGE_WRITE; failure only loses the head start

    return start_writeback


_start_writeback = _load_sync_file_range()


def _fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileUploadWriter:
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            # One writer at a time per upload, whichever worker holds the request.
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self._fd)
            raise
        self._pos = 0
        self._synced = 0  # bytes before this offset were handed to writeback

    def resume_at(self, size: int) -> None:
        if os.fstat(self._fd).st_size < size:
            raise UploadDamaged(f"upload holds fewer than the {size} acknowledged bytes")
        os.ftruncate(self._fd, size)
        os.lseek(self._fd, size, os.SEEK_SET)
        self._pos = self._synced = size

    def write(self, data: bytes) -> None:
        n = os.write(self._fd, data)
        if n < len(data):
            view = memoryview(data)[n:]
            while view:
                view = view[os.write(self._fd, view):]
        self._pos += len(data)
        if _start_writeback is not None and self._pos - self._synced >= WRITEBACK_EVERY:
            _start_writeback(self._fd, self._synced, self._pos - self._synced)
            self._synced = self._pos

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __del__(self) -> None:  # a writer dropped unclosed must not keep the upload locked
        if getattr(self, "_fd", -1) >= 0:
            self.close()


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)
        # Plain strings on the per-request paths (pathlib costs more than the syscalls).
        self._blobs_prefix = str(self._blobs) + os.sep
        self._uploads_prefix = str(self._uploads) + os.sep
        self._blob_dirs: set[str] = set()  # fan-out directories known to exist
        # Commits hold it shared, releases exclusive (see the BlobStore protocol); made now, while
        # there is room, so taking it later never needs a disk block.
        self._release_lock = str(root / ".release.lock")
        os.close(os.open(self._release_lock, os.O_CREAT | os.O_RDONLY | os.O_CLOEXEC, 0o600))

    def capacity(self) -> Capacity:
        st = os.statvfs(self._blobs_prefix)
        return Capacity(st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)

    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        fd = os.open(self._release_lock, os.O_RDONLY | os.O_CLOEXEC)  # one open file per holder: flock is per file
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    def committing(self) -> contextlib.AbstractContextManager[None]:
        return self._locked(fcntl.LOCK_SH)

    def releasing(self) -> contextlib.AbstractContextManager[None]:
        return self._locked(fcntl.LOCK_EX)

    def _blob_dir(self, digest: str) -> str:
        algorithm, _, hexpart = digest.partition(":")
        return f"{self._blobs_prefix}{algorithm}{os.sep}{hexpart[:2]}"

    def _blob_path(self, digest: str) -> str:
        return f"{self._blob_dir(digest)}{os.sep}{digest.partition(':')[2]}"

    def _upload_path(self, upload_id: str) -> str:
        if not upload_id.replace("-", "").isalnum():
            raise FileNotFoundError(upload_id)
        return self._uploads_prefix + upload_id

    def stat(self, digest: str) -> int | None:
        try:
            return os.stat(self._blob_path(digest)).st_size
        except FileNotFoundError:
            return None

    def open_read(self, digest: str, offset: int = 0) -> io.FileIO:
        f = open(self._blob_path(digest), "rb", buffering=0)  # noqa: SIM115 - returned to caller
        if offset:
            f.seek(offset)
        return f

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._blob_path(digest))

    def redirect_url(self, digest: str) -> str | None:
        return None

    def start_upload(self, upload_id: str) -> None:
        os.close(os.open(self._upload_path(upload_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))

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
        fd = os.open(data, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, length)
            os.fsync(fd)
        finally:
            os.close(fd)
        parent = self._blob_dir(digest)
        if parent not in self._blob_dirs:
            os.makedirs(parent, exist_ok=True)
            self._blob_dirs.add(parent)
        with contextlib.suppress(FileExistsError):
            try:
                os.link(data, self._blob_path(digest))
            except FileNotFoundError:  # the fan-out directory went away meanwhile
                os.makedirs(parent, exist_ok=True)
                os.link(data, self._blob_path(digest))
            _fsync_dir(parent)
        self.delete_upload(upload_id)

    def delete_upload(self, upload_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._upload_path(upload_id))

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
