"""Generations shared by every worker on this host, through a small mmap'd file.

Reading a generation is a memory read, so a cache hit costs no system call.
Bumps write a random value (no lock: any change invalidates). The file is allocated in full
when opened (runtime/mapped.py), so touching it never needs a fresh disk page (no SIGBUS on a
full disk); when that fails at start the worker does not start, since caches would go stale.

Scope: one host. Several hosts sharing one PostgreSQL database need a shared
signal (LISTEN/NOTIFY) instead; until then run them with the cache disabled.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from cargohold.core.ports.generations import SLOTS
from cargohold.runtime.mapped import preallocate

_SIZE = 8 * SLOTS


class SharedGenerations:
    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            preallocate(fd, _SIZE, path)
            self._mm = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)

    def current(self, slot: int) -> bytes:
        return self._mm[slot * 8:slot * 8 + 8]

    def bump(self, slot: int) -> None:
        self._mm[slot * 8:slot * 8 + 8] = os.urandom(8)
