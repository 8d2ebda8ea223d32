"""Throttling at the HTTP edge: which bucket a request takes from (see core/throttling.py).

/v2/ requests are throttled once their caller is resolved and allowed, so only requests the
registry will serve count (401 challenges and 403 refusals cost no token, and a client
that has not yet logged in is never told 429 instead of where to log in). Logins at
/oauth2/token and /oauth2/exchange take the registry's login token before any secret is
checked and the identity's once the caller is known. Basic credentials sent straight to /v2/
are not logins here: such a request takes a token of its own kind once allowed (a wrong
password there is a 401 and takes none; the argon2id cost of guessing is bounded by the
per-worker password cache only for right passwords).
"""

from __future__ import annotations

from starlette.requests import Request

from cargohold.api.distribution.context import registry_id
from cargohold.core.access import Caller
from cargohold.core.blocking import blocking
from cargohold.core.throttling import LOGINS, Limits, Throttle, identity_key


def _throttle(request: Request) -> Throttle | None:
    throttle: Throttle | None = getattr(request.app.state, "throttle", None)
    return throttle


async def _limits(throttle: Throttle, rid: int) -> Limits:
    limits = throttle.cached_limits(rid)
    return limits if limits is not None else await blocking(throttle.load_limits, rid)


async def throttle_caller(request: Request, caller: Caller, kind: str) -> None:
    """Take a `kind` token for `caller` from the registry's and the caller's buckets, or raise
    TooManyRequests (429, TOOMANYREQUESTS, Retry-After). On every /v2/ request's path."""
    throttle: Throttle | None = getattr(request.app.state, "throttle", None)
    if throttle is None:
        return
    rid = registry_id(request)
    limits = throttle.cached_limits(rid)
    if limits is None:
        limits = await blocking(throttle.load_limits, rid)
    throttle.check(limits, rid, kind, identity_key(caller.kind, caller.name))


async def throttle_login_attempt(request: Request) -> None:
    """A login attempt, before credentials are checked: the registry's login bucket."""
    throttle = _throttle(request)
    if throttle is None:
        return
    rid = registry_id(request)
    throttle.check_registry(await _limits(throttle, rid), rid, LOGINS)


async def throttle_login(request: Request, caller: Caller) -> None:
    """A login whose caller is now known: that identity's login bucket."""
    throttle = _throttle(request)
    if throttle is None:
        return
    rid = registry_id(request)
    throttle.check_identity(await _limits(throttle, rid), rid, LOGINS, identity_key(caller.kind, caller.name))
