"""Token buckets shared by every worker process on this host: a fixed-size table in an mmap'd file.

Layout of `<data-dir>/throttle` (little endian):

    header   64 bytes: magic, stripe count, sets per stripe, ways per set
    stripes  one region per stripe, `sets` sets each; a set is WAYS slots of 32 bytes
             (one 64-byte cache line); a slot is fingerprint u64 (0 = empty), tokens f64,
             last refill f64 (CLOCK_MONOTONIC seconds, the same in every process), padding

A registry's buckets all live in its stripe (registry id modulo the stripe count), and a
request's check — read both buckets, refill, take a token from each or from none, write
back — runs under that stripe's lock: `fcntl.lockf` on one byte (a POSIX record lock, so
a worker that dies holding it releases it), plus a thread lock because POSIX locks belong
to a process, not a thread. One lock/unlock pair per request, a couple of microseconds.
A lock held for longer than LOCK_TIMEOUT (a process stopped mid-update) lets the request
through unthrottled rather than stall the worker: throttling fails open.

A bucket's key (registry, kind, identity) hashes (BLAKE2b) to a fingerprint and a set in
the stripe. When neither slot of the set holds the fingerprint, the least recently
refilled slot is taken over and the bucket starts full. So a collision can only reset a
limit — let a caller through early — never refuse one it should not; a bucket idle for a
minute is full anyway, which is why the least recently refilled slot is the one reused.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cargohold.core.throttling import (
    DELETES,
    LOGINS,
    READS,
    REFERRERS,
    WRITES,
    Bucket,
    Plan,
    Throttle,
    ThrottlePolicy,
    take_all,
)
from cargohold.runtime.mapped import MappedFileUnavailable, preallocate
from cargohold.settings_view import SettingsView

log = logging.getLogger("cargohold.throttling")

MAGIC = b"CHTHROT1"
_HEADER = struct.Struct("<8sIII")
HEADER_SIZE = 64
_SLOT = struct.Struct("<Qdd")
_SET = struct.Struct("<Qdd8xQdd8x")  # both slots of a set at once
SLOT_SIZE = 32
WAYS = 2
SET_SIZE = SLOT_SIZE * WAYS
LOCK_TIMEOUT = 0.05  # seconds


class SharedBuckets:
    """A `BucketTable` in a file mapped by every worker (see the module doc)."""

    def __init__(self, path: Path, stripes: int = 16, sets_per_stripe: int = 4096) -> None:
        if not (0 < stripes <= HEADER_SIZE and sets_per_stripe > 0):
            raise ValueError("1..64 stripes and at least one set per stripe")
        self.stripes = stripes
        self.sets = sets_per_stripe
        self.size = HEADER_SIZE + stripes * sets_per_stripe * SET_SIZE
        self._path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            self._prepare()
            self._mm = mmap.mmap(self._fd, self.size)
        except BaseException:
            os.close(self._fd)
            raise
        self._thread_lock = threading.Lock()
        self._slots: dict[bytes, tuple[int, int]] = {}  # bucket key → (fingerprint, set offset in stripe)

    def _prepare(self) -> None:
        """Create or reset the file under a whole-file lock, so concurrent workers agree on it."""
        header = _HEADER.pack(MAGIC, self.stripes, self.sets, WAYS)
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            current = os.pread(self._fd, len(header), 0)
            rebuild = current != header or os.fstat(self._fd).st_size != self.size
            if rebuild:
                os.ftruncate(self._fd, 0)  # another layout (or a damaged file): start with full buckets
            preallocate(self._fd, self.size, self._path)  # no sparse page: a full disk must not mean SIGBUS
            if rebuild:
                os.pwrite(self._fd, header, 0)
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._mm.close()
        os.close(self._fd)

    def _slot(self, key: bytes) -> tuple[int, int]:
        hit = self._slots.get(key)
        if hit is None:
            digest = hashlib.blake2b(key, digest_size=16).digest()
            fingerprint = int.from_bytes(digest[:8], "little") | 1  # never 0 (empty)
            hit = (fingerprint, int.from_bytes(digest[8:], "little") % self.sets * SET_SIZE)
            if len(self._slots) > 50_000:
                self._slots.clear()
            self._slots[key] = hit
        return hit

    def take(self, registry_id: int, buckets: Sequence[Bucket], now: float) -> tuple[float, int]:
        stripe = registry_id % self.stripes
        region = HEADER_SIZE + stripe * self.sets * SET_SIZE
        mm, known = self._mm, self._slots
        fingerprints: list[int] = []
        offsets: list[int] = []
        states: list[tuple[float, float]] = []
        with self._thread_lock:
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, stripe)
            except OSError:
                if not self._wait_for_lock(stripe):
                    return 0.0, -1  # the table is stuck (a stopped process holds the lock): let requests through
            try:
                for bucket in buckets:
                    fingerprint, set_offset = known.get(bucket.key) or self._slot(bucket.key)
                    base = region + set_offset
                    fp0, tokens0, stamp0, fp1, tokens1, stamp1 = _SET.unpack_from(mm, base)
                    if fp0 == fingerprint and base not in offsets:
                        offsets.append(base)
                        states.append((tokens0, stamp0))
                    elif fp1 == fingerprint and base + SLOT_SIZE not in offsets:
                        offsets.append(base + SLOT_SIZE)
                        states.append((tokens1, stamp1))
                    else:  # not in the table: a full bucket, in the slot it takes over
                        offsets.append(self._victim(base, offsets))
                        states.append((bucket.rate.capacity, now))
                    fingerprints.append(fingerprint)
                new, wait, which = take_all(states, buckets, now)
                if new is not None:
                    for i, offset in enumerate(offsets):
                        if offset >= 0:
                            _SLOT.pack_into(mm, offset, fingerprints[i], *new[i])
                return wait, which
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, stripe)

    def _wait_for_lock(self, stripe: int) -> bool:
        """The stripe's lock, held by another process just now; False when that process keeps it
        for LOCK_TIMEOUT (e.g. it was stopped mid-update), so no request, let alone the event
        loop, waits longer than that."""
        deadline = time.monotonic() + LOCK_TIMEOUT
        while time.monotonic() < deadline:
            os.sched_yield()  # the holder needs a few microseconds
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, stripe)
                return True
            except OSError:
                continue
        return False

    def _victim(self, base: int, taken: list[int]) -> int:
        """The slot of the set at `base` to take over: an empty one, else the least recently
        refilled; -1 when this request already holds every slot of the set."""
        victim, victim_stamp = -1, math.inf
        for offset in range(base, base + SET_SIZE, SLOT_SIZE):
            if offset in taken:
                continue
            fp, _, stamp = _SLOT.unpack_from(self._mm, offset)
            if fp == 0:
                return offset
            if stamp < victim_stamp or victim < 0:
                victim, victim_stamp = offset, stamp
        return victim

def shared_throttle(settings: SettingsView, sku_of: Callable[[int], Plan]) -> Throttle | None:
    """The throttle every worker of this data dir shares, as configured; None when disabled."""
    if not settings.throttling_enabled:
        return None
    configured = {READS: settings.throttle_reads_per_minute, WRITES: settings.throttle_writes_per_minute,
                  DELETES: settings.throttle_deletes_per_minute, REFERRERS: settings.throttle_referrers_per_minute,
                  LOGINS: settings.throttle_logins_per_minute}
    policy = ThrottlePolicy({k: v for k, v in configured.items() if v is not None}, settings.throttle_identity_share)
    try:
        table = SharedBuckets(settings.data_dir / "throttle")
    except MappedFileUnavailable as e:  # throttling fails open rather than keep the registry from starting
        log.warning("throttling disabled in this worker: %s", e)
        return None
    return Throttle(table, policy, sku_of)
