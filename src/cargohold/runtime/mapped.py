"""Files shared between worker processes through mmap, with every page allocated up front.

Touching a page of a mapped file that has no disk block behind it (a sparse file made with
`ftruncate`) makes the kernel allocate one; on a full disk it cannot, and the process gets SIGBUS.
So every mapped file is allocated with `posix_fallocate` when it is opened, and a failure is
reported then (at start), never as a signal in the middle of a request. Allocating blocks that
already exist needs no free space, so a restart on a full disk still works.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Callable


class MappedFileUnavailable(OSError):
    """The file's blocks could not be allocated (e.g. a full disk at first start)."""


def preallocate(fd: int, size: int, path: object) -> None:
    """Make sure all `size` bytes of the open file have disk blocks (the file grows to `size` if shorter)."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
            raise MappedFileUnavailable(e.errno, f"cannot allocate {size} bytes for {path}: {e.strerror}") from e
        # No fallocate on this file system (glibc emulates it elsewhere): write the bytes instead.
        _write_through(fd, size, path)


def _write_through(fd: int, size: int, path: object) -> None:
    current = os.pread(fd, size, 0)
    try:
        os.pwrite(fd, current + b"\0" * (size - len(current)), 0)
        os.fsync(fd)
    except OSError as e:
        raise MappedFileUnavailable(e.errno, f"cannot allocate {size} bytes for {path}: {e.strerror}") from e


def _load_keep_size_fallocate() -> Callable[[int, int], bool]:
    """Linux fallocate(FALLOC_FL_KEEP_SIZE): disk blocks past a file's end without changing its size."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.fallocate
    except (OSError, AttributeError):
        return lambda _fd, _size: False
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fn.restype = ctypes.c_int

    def keep(fd: int, size: int) -> bool:
        return bool(fn(fd, 1, 0, size) == 0)  # 1 = FALLOC_FL_KEEP_SIZE

    return keep


reserve_blocks = _load_keep_size_fallocate()
"""reserve_blocks(fd, size): make sure the first `size` bytes of the file have disk blocks, its size
unchanged (False when the system cannot); later writes within them need no free space."""
