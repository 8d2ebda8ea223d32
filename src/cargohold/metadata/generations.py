"""Change generations shared by every worker on this host, through a small mmap'd file.

Workers cache metadata facts in process; a writer that changes or removes a
fact bumps a generation after committing, and readers drop entries recorded
under an older one. Reading a generation is a memory read, so a cache hit costs
no system call. Bumps write a random value (no lock: any change invalidates).

Scope: one host. Several hosts sharing one PostgreSQL database need a shared
signal (LISTEN/NOTIFY) instead; until then run them with the cache disabled.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Protocol

TAGS = 0  # a tag was created, moved or deleted
REMOVALS = 1  # a manifest, blob link or repository was removed
REGISTRIES = 2  # a registry was created, deleted, or changed its login server, SKU or limits
ATTRIBUTES = 3  # a changeable attribute (lock) or a write-once tag rule changed
_SLOTS = 4
_SIZE = 8 * _SLOTS


class Generations(Protocol):
    def current(self, slot: int) -> bytes: ...

    def bump(self, slot: int) -> None: ...


class SharedGenerations:
    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
            self._mm = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)

    def current(self, slot: int) -> bytes:
        return self._mm[slot * 8:slot * 8 + 8]

    def bump(self, slot: int) -> None:
        self._mm[slot * 8:slot * 8 + 8] = os.urandom(8)


class LocalGenerations:
    """Generations for a single process (tests, tools)."""

    def __init__(self) -> None:
        self._values = [b"\0" * 8 for _ in range(_SLOTS)]

    def current(self, slot: int) -> bytes:
        return self._values[slot]

    def bump(self, slot: int) -> None:
        self._values[slot] = os.urandom(8)
