"""Failed-login limiting: password guessing is bounded per source address and per (identity, source).

Separate from request rates (core/throttling.py): a guesser who stays under the request rate still
gets only `per_identity_source` wrong passwords per window for one name, and `per_source` for all
names together, from one address. The limit is never per identity alone, so an attacker elsewhere
cannot lock a user out: the right password from another address still works.

The count is read from the login log (every failure and every refusal is recorded there), so it
holds across the workers of a deployment, and across its nodes on a shared PostgreSQL. Refusals
count as failures: a client that keeps trying while refused keeps moving its retry time later
(the Retry-After it is told grows), and stops costing an argon2id verification.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cargohold.core.errors import TooManyRequests


class FailureLog(Protocol):
    def recent_login_failures(self, registry_id: int, source: str, since: datetime, limit: int,
                              identity: str | None = None) -> list[datetime]:
        """The times of the latest `limit` failed logins from `source` (and for `identity`) since `since`,
        newest first."""


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_identity_source: int = 10
    per_source: int = 30
    window_seconds: float = 900.0


def wait_before_next(newest_first: Sequence[datetime], limit: int, window: timedelta, now: datetime) -> float:
    """Seconds until fewer than `limit` failures lie in the sliding window (0: a try is allowed now).

    With failures t1 > t2 > ... (newest first), the window holds fewer than `limit` once the
    `limit`-th newest has aged out of it, at t_limit + window."""
    if len(newest_first) < limit:
        return 0.0
    return max(0.0, (newest_first[limit - 1] + window - now).total_seconds())


class LoginsRefused(TooManyRequests):
    """429 TOOMANYREQUESTS for a login tried too often with wrong credentials."""


class LoginLimiter:
    def __init__(self, log: FailureLog, limits: LoginLimits,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.log = log
        self.limits = limits
        self.clock = clock

    def check(self, registry_id: int, identity: str, source: str) -> None:
        """Raise LoginsRefused when `source` (or `identity` from `source`) has failed too often lately."""
        now = self.clock()
        window = timedelta(seconds=self.limits.window_seconds)
        since = now - window
        pair = self.limits.per_identity_source
        wait = wait_before_next(self.log.recent_login_failures(registry_id, source, since, pair, identity),
                                pair, window, now)
        whose = f"for {identity[:64]!r} from {source}"
        if wait <= 0:
            per_source = self.limits.per_source
            wait = wait_before_next(self.log.recent_login_failures(registry_id, source, since, per_source),
                                    per_source, window, now)
            whose = f"from {source}"
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise LoginsRefused(seconds, f"too many failed logins {whose}: retry after {seconds} s")
