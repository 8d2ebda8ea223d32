"""Issue 8, hole 6: failed logins are limited per source address and per (identity, source),
separately from request rates; 429 TOOMANYREQUESTS with a Retry-After that grows while a client
keeps trying; the right password from another address still works; every refusal is in the login log.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cargohold.core.login_limits import LoginLimiter, LoginLimits, LoginsRefused, wait_before_next
from support import RegistryServer, running_registry

T0 = datetime(2026, 1, 1, tzinfo=UTC)
W = timedelta(minutes=15)


def at(*seconds: float) -> list[datetime]:
    return sorted((T0 + timedelta(seconds=s) for s in seconds), reverse=True)


def test_window_rule() -> None:
    nine = at(*range(9))
    assert wait_before_next(nine, 10, W, T0 + timedelta(seconds=10)) == 0
    ten = at(*range(0, 600, 60))  # one a minute for ten minutes
    assert wait_before_next(ten, 10, W, T0 + timedelta(seconds=600)) == 300  # the oldest ages out at 900
    assert wait_before_next(ten, 10, W, T0 + timedelta(seconds=901)) == 0


def test_retry_after_grows_while_refused_attempts_continue() -> None:
    """Refusals are logged as failures, so each one moves the retry time later."""
    log: list[datetime] = [T0 + timedelta(seconds=60 * i) for i in range(10)]
    now = [T0 + timedelta(seconds=600)]

    class Log:
        def recent_login_failures(self, registry_id: int, source: str, since: datetime, limit: int,
                                  identity: str | None = None) -> list[datetime]:
            return sorted((t for t in log if t >= since), reverse=True)[:limit]

    limiter = LoginLimiter(Log(), LoginLimits(10, 30, W.total_seconds()), clock=lambda: now[0])
    waits = []
    for _ in range(5):
        with pytest.raises(LoginsRefused) as refused:
            limiter.check(1, "owner", "10.0.0.1")
        waits.append(refused.value.retry_after)
        log.append(now[0])
        now[0] += timedelta(seconds=10)
    assert waits == sorted(waits) and waits[-1] > waits[0], waits


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    env = {"CARGOHOLD_THROTTLING_ENABLED": "false", "CARGOHOLD_LOGIN_LIMITS_ENABLED": "true"}
    with running_registry(tmp_path_factory.mktemp("logins") / "data", workers=2, extra_env=env) as s:
        yield s


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def attempts(server: RegistryServer, source: str, password: str) -> dict[str, httpx.Response]:
    """One login on every entry point that takes a password, from `source` (X-Forwarded-For, which
    the server trusts from loopback like a reverse proxy's)."""
    fwd = {"X-Forwarded-For": source}
    auth = {**fwd, "Authorization": basic(server.username, password)}
    form = {"grant_type": "password", "username": server.username, "password": password}
    with httpx.Client(base_url=server.url, timeout=30) as c:
        return {
            "v2": c.get("/v2/", headers=auth),
            "token": c.get("/oauth2/token", params={"service": server.host}, headers=auth),
            "password grant": c.post("/oauth2/token", data=form, headers=fwd),
            "exchange": c.post("/oauth2/exchange", data=form, headers=fwd),
            "api": c.get("/api/registry", headers=auth),
        }


def test_wrong_passwords_are_limited_per_identity_and_source(server: RegistryServer) -> None:
    source = "192.0.2.10"
    for _ in range(2):  # 5 entry points x 2 = 10 failures, spread over both workers
        assert {k: r.status_code for k, r in attempts(server, source, "wrong").items()} == dict.fromkeys(
            ("v2", "token", "password grant", "exchange", "api"), 401)
    refused = attempts(server, source, server.password)  # even the right password now waits
    for name, r in refused.items():
        assert r.status_code == 429, (name, r.text)
        assert r.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        assert 800 < int(r.headers["Retry-After"]) <= 900, name
    # Not a lockout: the owner from another address gets in at every entry point.
    assert {k: r.status_code for k, r in attempts(server, "198.51.100.7", server.password).items()} == {
        "v2": 200, "token": 200, "password grant": 200, "exchange": 200, "api": 200}

    with httpx.Client(base_url=server.url, auth=server.basic_auth, timeout=30,
                      headers={"X-Forwarded-For": "198.51.100.7"}) as c:
        r = c.get("/api/logs/login", params={"identity": server.username, "outcome": "failure", "limit": 100})
    assert r.status_code == 200, r.text
    mine = [e for e in r.json() if e["source"] == source]
    assert len([e for e in mine if e["reason"].startswith("refused: too many failed logins")]) == 5, mine
    assert len(mine) == 15


def test_many_names_from_one_source_are_limited(server: RegistryServer) -> None:
    source = "192.0.2.99"
    with httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": source}) as c:
        codes = [c.get("/v2/", headers={"Authorization": basic(f"user{i}", "x")}).status_code for i in range(31)]
    assert codes == [401] * 30 + [429]
