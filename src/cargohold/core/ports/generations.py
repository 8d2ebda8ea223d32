"""The Generations port: change counters that let every worker drop cached facts at once.

Workers cache metadata facts in process; a writer that changes or removes a fact
bumps a generation after committing, and readers drop entries recorded under an
older one. `metadata/generations.py` shares them between the workers of one host.
"""

from __future__ import annotations

import os
from typing import Protocol

TAGS = 0  # a tag was created, moved or deleted
REMOVALS = 1  # a manifest, blob link or repository was removed
REGISTRIES = 2  # a registry was created, deleted, or changed its login server, SKU or limits
ATTRIBUTES = 3  # a changeable attribute (lock) or a write-once tag rule changed
SLOTS = 4


class Generations(Protocol):
    def current(self, slot: int) -> bytes: ...

    def bump(self, slot: int) -> None: ...


class LocalGenerations:
    """Generations for a single process (tests, tools)."""

    def __init__(self) -> None:
        self._values = [b"\0" * 8 for _ in range(SLOTS)]

    def current(self, slot: int) -> bytes:
        return self._values[slot]

    def bump(self, slot: int) -> None:
        self._values[slot] = os.urandom(8)
