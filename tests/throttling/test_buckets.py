"""Bucket arithmetic, limits, and the shared table (several processes, collisions, damage)."""

from __future__ import annotations

import fcntl
import math
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cargohold.core.errors import TooManyRequests
from cargohold.core.throttling import (
    DELETES,
    LOGINS,
    READS,
    REFERRERS,
    SKU_LIMITS,
    WRITES,
    Bucket,
    LocalBuckets,
    Rate,
    Throttle,
    ThrottlePolicy,
    identity_key,
    refill,
    retry_after,
    take_all,
    wait_for_token,
)
from cargohold.runtime.shared_buckets import HEADER_SIZE, SharedBuckets


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- arithmetic ---------------------------------------------------------------------------------

def test_refill_is_linear_and_capped() -> None:
    rate = Rate(60)  # one token a second, at most 60
    assert refill(0.0, 100.0, 100.0, rate) == (0.0, 100.0)
    assert refill(0.0, 100.0, 110.5, rate) == (pytest.approx(10.5), 110.5)
    assert refill(59.5, 100.0, 200.0, rate) == (60.0, 200.0)


def test_a_slightly_earlier_clock_reading_adds_nothing_and_keeps_the_stamp() -> None:
    """Another process may have written a later stamp while this one waited for the lock."""
    assert refill(2.0, 100.0, 99.5, Rate(60)) == (2.0, 100.0)


def test_damage_or_a_restarted_clock_gives_a_full_bucket() -> None:
    rate = Rate(10)
    assert refill(3.0, 500.0, 100.0, rate) == (10.0, 100.0)  # stamp far in the future: a reboot
    assert refill(math.nan, 100.0, 101.0, rate) == (10.0, 101.0)
    assert refill(-4.0, 100.0, 101.0, rate) == (10.0, 101.0)
    assert refill(1e9, 100.0, 101.0, rate) == (10.0, 101.0)  # more than it can hold (the limit was lowered)


def test_a_rate_holds_at_least_one_token() -> None:
    with pytest.raises(ValueError):
        Rate(0.5)


def test_wait_and_retry_after_round_up_to_whole_seconds() -> None:
    rate = Rate(6)  # a token every 10 s
    assert wait_for_token(0.0, rate) == pytest.approx(10.0)
    assert wait_for_token(0.75, rate) == pytest.approx(2.5)
    assert wait_for_token(1.0, rate) == 0.0
    assert retry_after(2.5) == 3
    assert retry_after(3.0) == 3
    assert retry_after(0.01) == 1
    assert retry_after(0.0) == 1  # never "retry after 0"


def test_burst_is_one_minute_of_tokens_then_the_rate() -> None:
    table, now = LocalBuckets(), 50.0
    b = [Bucket(b"k", Rate(30), READS, "registry")]  # 30 at once, then one every 2 s
    assert [table.take(1, b, now)[1] for _ in range(30)] == [-1] * 30
    wait, which = table.take(1, b, now)
    assert which == 0 and wait == pytest.approx(2.0)
    assert table.take(1, b, now + 1.0) == (pytest.approx(1.0), 0)
    assert table.take(1, b, now + 2.0) == (0.0, -1)
    assert table.take(1, b, now + 2.0)[1] == 0


def test_take_all_takes_from_every_bucket_or_from_none() -> None:
    big, small = Bucket(b"r", Rate(100), READS, "registry"), Bucket(b"i", Rate(1), READS, "identity")
    new, wait, which = take_all([(5.0, 0.0), (1.0, 0.0)], [big, small], 0.0)
    assert new == [(4.0, 0.0), (0.0, 0.0)] and which == -1
    new, wait, which = take_all([(5.0, 0.0), (0.0, 0.0)], [big, small], 0.0)
    assert new is None and which == 1 and wait == pytest.approx(60.0)
    # both refuse: the longer wait is reported
    new, wait, which = take_all([(0.5, 0.0), (0.9, 0.0)], [big, small], 0.0)
    assert new is None and which == 1 and wait == pytest.approx(6.0)


# --- limits -------------------------------------------------------------------------------------

def test_defaults_are_acrs_published_read_and_write_limits() -> None:
    assert {s: (v[READS], v[WRITES]) for s, v in SKU_LIMITS.items()} == {
        "Basic": (1_000, 100), "Standard": (3_000, 500), "Premium": (10_000, 2_000)}
    for limits in SKU_LIMITS.values():
        assert limits[DELETES] == limits[WRITES]
        assert limits[REFERRERS] == limits[LOGINS] == limits[READS] // 10


def test_policy_overrides_the_sku_and_shares_with_identities() -> None:
    limits = ThrottlePolicy({READS: 12}, identity_share=0.5).limits("Standard")
    assert limits.registry[READS].per_minute == 12 and limits.identity[READS].per_minute == 6
    assert limits.registry[WRITES].per_minute == 500 and limits.identity[WRITES].per_minute == 250
    assert ThrottlePolicy({}).limits("NoSuchSku").registry[READS].per_minute == 10_000  # Premium
    assert ThrottlePolicy({READS: 1}, 0.1).limits("Basic").identity[READS].per_minute == 1  # at least one


def test_identity_keys() -> None:
    assert identity_key("anonymous", "") == identity_key("anonymous", "whoever") == "anonymous:"
    assert identity_key("admin", "myregistry") == "admin:myregistry"
    assert identity_key("user", "alice") != identity_key("token", "alice")


# --- the service --------------------------------------------------------------------------------

def _throttle(clock: Clock, **overrides: int) -> Throttle:
    return Throttle(LocalBuckets(), ThrottlePolicy(overrides, 0.5), lambda _rid: "Premium", clock=clock)


def test_retry_after_counts_down_and_the_limit_recovers() -> None:
    clock = Clock()
    t = _throttle(clock, reads=12)
    limits = t.load_limits(1)
    for _ in range(6):
        t.check(limits, 1, READS, "user:alice")
    seen = []
    for _ in range(4):
        with pytest.raises(TooManyRequests) as e:
            t.check(limits, 1, READS, "user:alice")
        assert e.value.code == "TOOMANYREQUESTS" and "this identity" in e.value.message
        seen.append(e.value.retry_after)
        clock.now += 2.5
    assert seen == [10, 8, 5, 3]
    clock.now += 3
    t.check(limits, 1, READS, "user:alice")  # a token again


def test_identities_have_their_own_buckets_within_the_registrys() -> None:
    t = _throttle(Clock(), reads=12)
    limits = t.load_limits(1)
    for who in ("user:alice", "user:bob"):
        for _ in range(6):
            t.check(limits, 1, READS, who)
        with pytest.raises(TooManyRequests, match="this identity"):
            t.check(limits, 1, READS, who)
    with pytest.raises(TooManyRequests, match="this registry") as e:
        t.check(limits, 1, READS, "user:carol")
    assert e.value.retry_after == 5  # the registry refills a token every 5 s
    t.check(limits, 2, READS, "user:carol")  # another registry: its own buckets
    t.check(limits, 1, WRITES, "user:carol")  # another kind: its own buckets


def test_refusals_take_nothing() -> None:
    clock = Clock()
    t = _throttle(clock, reads=12)
    limits = t.load_limits(1)
    for _ in range(6):
        t.check(limits, 1, READS, "user:alice")
    for _ in range(100):
        with pytest.raises(TooManyRequests):
            t.check(limits, 1, READS, "user:alice")
    for _ in range(6):  # the refusals did not drain the registry
        t.check(limits, 1, READS, "user:bob")


def test_login_checks_split_registry_and_identity() -> None:
    t = _throttle(Clock(), logins=4)
    limits = t.load_limits(1)
    t.check_registry(limits, 1, LOGINS)
    t.check_identity(limits, 1, LOGINS, "user:alice")
    t.check_identity(limits, 1, LOGINS, "user:alice")
    with pytest.raises(TooManyRequests, match="this identity"):
        t.check_identity(limits, 1, LOGINS, "user:alice")
    for _ in range(3):
        t.check_registry(limits, 1, LOGINS)
    with pytest.raises(TooManyRequests, match="too many login requests: this registry"):
        t.check_registry(limits, 1, LOGINS)


def test_limits_are_cached_and_follow_the_sku() -> None:
    clock, sku = Clock(), {"value": "Basic"}
    calls = []

    def sku_of(rid: int) -> str:
        calls.append(rid)
        return sku["value"]

    t = Throttle(LocalBuckets(), ThrottlePolicy({}), sku_of, clock=clock, limits_seconds=10)
    assert t.cached_limits(1) is None
    assert t.load_limits(1).registry[READS].per_minute == 1_000
    assert t.cached_limits(1) is not None and calls == [1]
    sku["value"] = "Standard"
    clock.now += 11
    assert t.cached_limits(1) is None
    assert t.load_limits(1).registry[READS].per_minute == 3_000


# --- the shared table ---------------------------------------------------------------------------

def _hammer(path: str, start: float, results: multiprocessing.Queue[int]) -> None:
    table = SharedBuckets(Path(path))
    buckets = [Bucket(b"1\0reads\0registry", Rate(50), READS, "registry"),
               Bucket(b"1\0reads\0identity\0user:alice", Rate(40), READS, "identity")]
    while time.time() < start:
        pass
    results.put(sum(table.take(1, buckets, time.monotonic())[1] < 0 for _ in range(200)))


def test_processes_share_the_buckets(tmp_path: Path) -> None:
    """Four processes take from the same buckets at once: exactly the smaller bucket's tokens go."""
    path = tmp_path / "throttle"
    SharedBuckets(path).close()
    ctx = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[int] = ctx.Queue()
    start = time.time() + 0.5
    procs = [ctx.Process(target=_hammer, args=(str(path), start, results)) for _ in range(4)]
    for p in procs:
        p.start()
    taken = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(10)
    # 40 at once, plus the refill (40/min) during the race, which lasts well under a second
    assert 40 <= sum(taken) <= 41, taken


def test_state_survives_reopening_and_another_layout_starts_afresh(tmp_path: Path) -> None:
    path, now = tmp_path / "throttle", time.monotonic()
    b = [Bucket(b"k", Rate(3), WRITES, "registry")]
    table = SharedBuckets(path)
    assert [table.take(7, b, now)[1] for _ in range(4)] == [-1, -1, -1, 0]
    table.close()
    table = SharedBuckets(path)
    assert table.take(7, b, now)[1] == 0  # still empty
    table.close()
    table = SharedBuckets(path, stripes=8)  # another layout: reset, full again
    assert table.take(7, b, now)[1] == -1
    table.close()
    path.write_bytes(b"garbage")  # damaged: reset too
    table = SharedBuckets(path)
    assert path.stat().st_size == table.size and table.size > HEADER_SIZE
    assert table.take(7, b, now)[1] == -1
    table.close()


def test_a_collision_can_only_reset_a_limit(tmp_path: Path) -> None:
    """With one set of two slots per stripe, a third bucket takes over the least recently used slot:
    that bucket's owner gets a full bucket again (more lenient), nobody gets refused early."""
    table, now = SharedBuckets(tmp_path / "throttle", stripes=1, sets_per_stripe=1), 100.0
    a, b, c = ([Bucket(k, Rate(2), READS, "identity")] for k in (b"a", b"b", b"c"))
    assert [table.take(1, a, now)[1] for _ in range(3)] == [-1, -1, 0]
    assert [table.take(1, b, now + 1)[1] for _ in range(3)] == [-1, -1, 0]
    assert table.take(1, a, now + 2)[1] == 0  # a: refused, which touches no slot
    # c is new: it takes over the slot refilled longest ago (a's) and starts full
    assert [table.take(1, c, now + 3)[1] for _ in range(3)] == [-1, -1, 0]
    assert table.take(1, b, now + 3)[1] == 0  # b kept its slot: still limited
    assert table.take(1, a, now + 3)[1] == -1  # a lost its slot: a full bucket again (a reset)


def test_two_buckets_of_one_request_never_share_a_slot(tmp_path: Path) -> None:
    table, now = SharedBuckets(tmp_path / "throttle", stripes=1, sets_per_stripe=1), 100.0
    pair = [Bucket(b"r", Rate(3), READS, "registry"), Bucket(b"i", Rate(2), READS, "identity")]
    assert [table.take(1, pair, now)[1] for _ in range(3)] == [-1, -1, 1]
    assert table.take(1, pair[:1], now)[1] == -1  # the registry bucket kept its own count (1 left)
    assert table.take(1, pair[:1], now)[1] == 0


def _hold_stripe_lock(path: str, stripe: int, held: Any, release: Any) -> None:
    fd = os.open(path, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX, 1, stripe)
    held.set()
    release.wait(30)


def test_a_stuck_lock_lets_requests_through_instead_of_stalling(tmp_path: Path) -> None:
    path = tmp_path / "throttle"
    table = SharedBuckets(path)
    b = [Bucket(b"k", Rate(1), READS, "registry")]
    assert table.take(3, b, 100.0)[1] == -1
    assert table.take(3, b, 100.0)[1] == 0  # empty
    ctx = multiprocessing.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_stripe_lock, args=(str(path), 3 % table.stripes, held, release))
    holder.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        assert table.take(3, b, 100.0) == (0.0, -1)  # fails open...
        assert time.monotonic() - started < 1.0  # ...after LOCK_TIMEOUT, not forever
    finally:
        release.set()
        holder.join(10)
    assert table.take(3, b, 100.0)[1] == 0  # the lock is back: still empty (nothing was written)
