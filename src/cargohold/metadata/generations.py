"""Generations shared by every worker on this host, through a small mmap'd file.

Reading a generation is a memory read, so a cache hit costs no system call.
Bumps write a random value (no lock: any change invalidates).

Scope: one host. Several hosts sharing one PostgreSQL database need a shared
signal (LISTEN/NOTIFY) instead; until then run them with the cache disabled.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from cargohold.core.ports.generations import SLOTS

_SIZE = 8 * SLOTS


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
