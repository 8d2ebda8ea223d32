"""Request bodies of uploads: taken in batches for the writer thread, and drained when refused mid-stream."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from cargohold.core.errors import SizeInvalid

BATCH = 1 << 20  # bytes handed to the writer thread at a time


class Body:
    """A request body taken in batches of at least BATCH bytes, counted against the declared length.

    Whole small bodies arrive in one batch, so a small chunk costs one trip to a worker thread.
    """

    def __init__(self, body: AsyncIterator[bytes] | None, length: int | None) -> None:
        self._chunks = body.__aiter__() if body is not None else None
        self._length = length
        self.received = 0
        self.done = self._chunks is None

    async def batch(self) -> list[bytes]:
        parts: list[bytes] = []
        buffered = 0
        while self._chunks is not None and not self.done and buffered < BATCH:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self.done = True
                break
            if not chunk:
                continue
            parts.append(chunk)
            buffered += len(chunk)
            self.received += len(chunk)
            if self._length is not None and self.received > self._length:
                self.done = True  # more than declared: stop reading; check() refuses it
        return parts

    def check(self) -> None:
        if self._length is not None and self.received != self._length:
            raise SizeInvalid(f"received {self.received} bytes but Content-Length said {self._length}")


DRAIN_LIMIT = 64 << 20  # bytes of a refused body read and dropped before the refusal is sent


async def drain(body: AsyncIterator[bytes] | None) -> None:
    """Read and drop what is left of a body refused mid-stream (at most DRAIN_LIMIT), so the client reads
    the refusal: a socket closed with unread bytes sends a reset that destroys the response in flight
    (skopeo then reports "connection reset by peer" instead of the storage-full error)."""
    if body is None:
        return
    seen = 0
    with contextlib.suppress(Exception):
        async for chunk in body:
            seen += len(chunk)
            if seen >= DRAIN_LIMIT:
                break
