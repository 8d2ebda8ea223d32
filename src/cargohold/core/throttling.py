"""Request throttling: token buckets per registry and per identity.

Every request the registry serves is one of five kinds — reads, writes, deletes,
referrer listings, logins — and takes one token from two buckets of that kind:
the registry's, and the calling identity's. Only when both hold a token does
the request go ahead (and then both lose one); otherwise it is refused with
`TooManyRequests` carrying the whole seconds until the emptier bucket holds a
token again, so a client that retries sees the wait count down.

A bucket holds at most one minute's worth of tokens (its per-minute limit is
also its burst) and refills continuously at limit/60 tokens per second.

Defaults follow ACR's published per-minute figures for the registry's SKU
(ReadOps and WriteOps per minute: Basic 1,000 / 100, Standard 3,000 / 500,
Premium 10,000 / 2,000). ACR publishes no figure for deletes, referrer listings
or logins; ours are: deletes = the write limit (a delete changes the
registry), referrer listings and logins = a tenth of the read limit (a listing
is a query over the subject index, a login may cost an argon2id verification).
An identity may use `identity_share` of each registry limit (default half), so
no single identity — and not all anonymous callers together — can take a
registry's whole budget.

Identity keys: `<kind>:<name>` of the caller (`anonymous:` for every anonymous
caller; the admin user is one identity whichever of its two passwords was
used). A login (`/oauth2/token`, `/oauth2/exchange`) takes its registry token
before any secret is checked — so failed attempts count and an argon2id
verification is never spent beyond the limit — and its identity token once the
caller is known.

This module is pure: bucket arithmetic, limits, and the `BucketTable`
protocol. The table shared by every worker process lives in
`cargohold.runtime.shared_buckets`; `LocalBuckets` here serves one process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cargohold.core.errors import TooManyRequests

READS = "reads"
WRITES = "writes"
DELETES = "deletes"
REFERRERS = "referrers"
LOGINS = "logins"
KINDS = (READS, WRITES, DELETES, REFERRERS, LOGINS)

_NOUNS = {READS: "read", WRITES: "write", DELETES: "delete", REFERRERS: "referrer listing", LOGINS: "login"}

# Per-minute registry limits by SKU. reads and writes: ACR's published ReadOps/WriteOps per minute
# (learn.microsoft.com/azure/container-registry/container-registry-skus); the rest: ours, see above.
SKU_LIMITS: dict[str, dict[str, int]] = {
    "Basic": {READS: 1_000, WRITES: 100, DELETES: 100, REFERRERS: 100, LOGINS: 100},
    "Standard": {READS: 3_000, WRITES: 500, DELETES: 500, REFERRERS: 300, LOGINS: 300},
    "Premium": {READS: 10_000, WRITES: 2_000, DELETES: 2_000, REFERRERS: 1_000, LOGINS: 1_000},
}
DEFAULT_SKU = "Premium"
DEFAULT_IDENTITY_SHARE = 0.5


# --- bucket arithmetic -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Rate:
    """A bucket's size: `per_minute` tokens at most (the burst), refilled at per_minute/60 a second."""

    per_minute: float
    capacity: float = field(init=False, compare=False)
    per_second: float = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not self.per_minute >= 1:
            raise ValueError("a bucket must hold at least one token")
        object.__setattr__(self, "capacity", float(self.per_minute))
        object.__setattr__(self, "per_second", self.per_minute / 60.0)


# A stamp this far ahead of `now` means the clock restarted (a reboot); less is a caller that read
# the clock before waiting for the table's lock, while another process wrote a later stamp.
CLOCK_SLACK = 60.0


def refill(tokens: float, stamp: float, now: float, rate: Rate) -> tuple[float, float]:
    """(tokens, stamp) of a bucket that held `tokens` at `stamp`, brought forward to `now`.

    Never above capacity, and the stamp never goes back. A stamp far in the future (the
    clock restarted) or a value that is not a number (a damaged slot) gives a full bucket:
    damage may only make a limit more lenient.
    """
    elapsed = now - stamp
    capacity = rate.capacity
    if not (elapsed >= -CLOCK_SLACK and 0 <= tokens <= capacity):  # also false for NaN
        return capacity, now
    if elapsed <= 0:
        return tokens, stamp
    tokens += elapsed * rate.per_second
    return (tokens if tokens < capacity else capacity), now


def wait_for_token(tokens: float, rate: Rate) -> float:
    """Seconds until a bucket now holding `tokens` holds one (0 when it already does)."""
    return max(0.0, (1.0 - tokens) / rate.per_second)


def retry_after(wait: float) -> int:
    """A Retry-After value in whole seconds: the wait rounded up, at least 1."""
    return max(1, math.ceil(wait - 1e-9))


# --- the table of buckets ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Bucket:
    key: bytes  # stable across processes and restarts: registry, kind, scope and identity
    rate: Rate
    kind: str  # reads | writes | deletes | referrers | logins
    scope: str  # registry | identity


class BucketTable(Protocol):
    def take(self, registry_id: int, buckets: Sequence[Bucket], now: float) -> tuple[float, int]:
        """Take one token from every bucket (all of registry `registry_id`), atomically, or none.

        Returns (0.0, -1) when taken, else (seconds until the refusing bucket holds a token,
        its index in `buckets`) — the longest such wait when several refuse.
        """


def take_all(states: Sequence[tuple[float, float]], buckets: Sequence[Bucket],
             now: float) -> tuple[list[tuple[float, float]] | None, float, int]:
    """The core of `BucketTable.take` for any storage: (tokens, stamp) per bucket in →
    (new states or None when refused, wait, refusing index). On every request's path: kept lean."""
    new: list[tuple[float, float]] = []
    wait, which = 0.0, -1
    for i, bucket in enumerate(buckets):
        rate = bucket.rate
        level, stamp = refill(*states[i], now, rate)
        if level < 1.0:
            w = (1.0 - level) / rate.per_second
            if w >= wait:
                wait, which = w, i
        new.append((level - 1.0, stamp))
    if which >= 0:
        return None, wait, which
    return new, 0.0, -1


class LocalBuckets:
    """Buckets in one process's memory (unit tests, tools, a single process)."""

    def __init__(self) -> None:
        self._states: dict[bytes, tuple[float, float]] = {}

    def take(self, registry_id: int, buckets: Sequence[Bucket], now: float) -> tuple[float, int]:
        states = [self._states.get(b.key, (b.rate.capacity, now)) for b in buckets]
        new, wait, which = take_all(states, buckets, now)
        if new is not None:
            for b, state in zip(buckets, new, strict=True):
                self._states[b.key] = state
        return wait, which


# --- limits and the service --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """What the operator configured: per-kind registry limits overriding the SKU's, and the share
    of each registry limit one identity may use."""

    overrides: dict[str, int]  # kind → per-minute registry limit; absent kinds follow the SKU
    identity_share: float = DEFAULT_IDENTITY_SHARE

    def limits(self, sku: str, registry_overrides: Mapping[str, int] | None = None) -> Limits:
        """The SKU's limits, then the operator's configured ones, then the registry's own overrides
        (`reads_per_minute`, ... as core/skus.py RATE_LIMITS names them; 0 is taken as 1 a minute)."""
        table = SKU_LIMITS.get(sku, SKU_LIMITS[DEFAULT_SKU])
        own = {k: registry_overrides[f"{k}_per_minute"] for k in KINDS
               if registry_overrides and f"{k}_per_minute" in registry_overrides}
        registry = {k: Rate(float(max(1, own[k]) if k in own else self.overrides.get(k, table[k]))) for k in KINDS}
        identity = {k: Rate(max(1.0, r.per_minute * self.identity_share)) for k, r in registry.items()}
        return Limits(sku, registry, identity)


@dataclass(frozen=True, slots=True)
class Limits:
    sku: str
    registry: dict[str, Rate]
    identity: dict[str, Rate]


# What `sku_of` returns for a registry: its SKU, or its SKU and its limit overrides.
Plan = str | tuple[str, Mapping[str, int] | None]


def identity_key(kind: str, name: str) -> str:
    """The bucket key of a caller: all anonymous callers share one; one per identity otherwise."""
    return "anonymous:" if kind == "anonymous" else f"{kind}:{name}"


class Throttle:
    """Checks requests against their registry's and their identity's buckets."""

    def __init__(self, table: BucketTable, policy: ThrottlePolicy, sku_of: Callable[[int], Plan],
                 clock: Callable[[], float] = time.monotonic, limits_seconds: float = 10.0) -> None:
        self._table = table
        self._policy = policy
        self._sku_of = sku_of
        self._clock = clock
        self._limits_seconds = limits_seconds
        self._limits: dict[int, tuple[float, Limits]] = {}
        self._buckets: dict[tuple[int, str, str], tuple[Bucket, Bucket]] = {}

    def cached_limits(self, registry_id: int) -> Limits | None:
        """The registry's limits when known and fresh; else None (call `load_limits`, it may block)."""
        hit = self._limits.get(registry_id)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return None

    def load_limits(self, registry_id: int) -> Limits:
        """Look the registry's SKU up (a store read) and cache its limits for a few seconds."""
        plan = self._sku_of(registry_id)
        limits = self._policy.limits(plan) if isinstance(plan, str) else self._policy.limits(*plan)
        previous = self._limits.get(registry_id)
        if previous is None or previous[1] != limits:
            self._buckets.clear()
        self._limits[registry_id] = (self._clock() + self._limits_seconds, limits)
        return limits

    def buckets(self, limits: Limits, registry_id: int, kind: str, identity: str) -> tuple[Bucket, Bucket]:
        key = (registry_id, kind, identity)
        pair = self._buckets.get(key)
        if pair is None:
            if len(self._buckets) > 10_000:
                self._buckets.clear()
            prefix = f"{registry_id}\0{kind}\0"
            pair = (Bucket((prefix + "registry").encode(), limits.registry[kind], kind, "registry"),
                    Bucket((prefix + "identity\0" + identity).encode(), limits.identity[kind], kind, "identity"))
            self._buckets[key] = pair
        return pair

    def check(self, limits: Limits, registry_id: int, kind: str, identity: str) -> None:
        """Take a token of `kind` from the registry's and the identity's buckets (both or neither);
        raise TooManyRequests when either is empty."""
        pair = self._buckets.get((registry_id, kind, identity)) or self.buckets(limits, registry_id, kind, identity)
        wait, which = self._table.take(registry_id, pair, self._clock())
        if which >= 0:
            self._refuse(pair[which], wait)

    def check_registry(self, limits: Limits, registry_id: int, kind: str) -> None:
        """Only the registry's bucket (a login attempt, before the caller is known)."""
        self._take(self.buckets(limits, registry_id, kind, "")[:1], registry_id)

    def check_identity(self, limits: Limits, registry_id: int, kind: str, identity: str) -> None:
        """Only the identity's bucket (a login, once the caller is known)."""
        self._take(self.buckets(limits, registry_id, kind, identity)[1:], registry_id)

    def _take(self, buckets: tuple[Bucket, ...], registry_id: int) -> None:
        wait, which = self._table.take(registry_id, buckets, self._clock())
        if which >= 0:
            self._refuse(buckets[which], wait)

    @staticmethod
    def _refuse(bucket: Bucket, wait: float) -> None:
        seconds = retry_after(wait)
        whose = "this registry" if bucket.scope == "registry" else "this identity"
        raise TooManyRequests(seconds, f"too many {_NOUNS[bucket.kind]} requests: {whose} may make "
                                       f"{bucket.rate.per_minute:g} a minute; retry after {seconds} s")
