"""Files shared between worker processes through mmap, with every page allocated up front.

Touching a page of a mapped file that has no disk block behind it (a sparse file made with
`ftruncate`) makes the kernel allocate one; on a full disk it cannot, and the process gets SIGBUS.
So every mapped file is allocated with `posix_fallocate` when it is opened, and a failure is
reported then (at start), never as a signal in the middle of a request. Allocating blocks that
already exist needs no free space, so a restart on a full disk still works.
"""

from __future__ import annotations

import errno
import os


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
