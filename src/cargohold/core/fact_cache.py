"""In-process LRU of metadata facts, valid while the generations they depend on stand still."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from cargohold.core.ports.generations import Generations

V = TypeVar("V")


class FactCache(Generic[V]):
    def __init__(self, generations: Generations, slots: tuple[int, ...], max_entries: int = 20_000) -> None:
        self._generations = generations
        self._slots = slots
        self._max = max_entries
        self._entries: OrderedDict[Hashable, tuple[bytes, V]] = OrderedDict()

    def stamp(self) -> bytes:
        """Take before reading the store; pass to `put` so a change in between is not cached."""
        return b"".join(self._generations.current(s) for s in self._slots)

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] != self.stamp():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Hashable, value: V, stamp: bytes) -> None:
        if self._max <= 0:
            return
        self._entries[key] = (stamp, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
