"""/api/logs/login: every sign-in attempt, filtered."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mgmttools import Api, can_sign_in

from support import RegistryServer


def test_login_log(server: RegistryServer, owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("logged")
    created = owner.post("/users", {"name": name}, expect=201)
    start = datetime.now(UTC) - timedelta(seconds=1)
    assert not can_sign_in(server.url, name, "wrong-" + secrets.token_hex(4))
    with Api(server.url, name, created["password"]) as user:
        user.error("GET", "/registry", status=403)  # signs in, lacks the role
    assert can_sign_in(server.url, name, created["password"])  # verified a moment ago: not logged again

    events = owner.get("/logs/login", identity=name)
    assert [e["outcome"] for e in events] == ["success", "failure"]  # most recent first
    assert set(events[0]) == {"at", "identity", "identityKind", "method", "source", "outcome", "reason"}
    assert events[0]["method"] == "management" and events[1]["method"] == "token"
    assert events[0]["identityKind"] == "user" and events[0]["source"] == "127.0.0.1"
    assert events[0]["reason"] == ""
    assert events[1]["identityKind"] is None and events[1]["reason"]
    assert [e["outcome"] for e in owner.get("/logs/login", identity=name, outcome="failure")] == ["failure"]
    assert len(owner.get("/logs/login", identity=name, top=1)) == 1
    assert len(owner.get("/logs/login", identity=name, since=start.isoformat())) == 2
    assert owner.get("/logs/login", identity=name, since=(datetime.now(UTC) + timedelta(hours=1)).isoformat()) == []
    assert owner.get("/logs/login", identity="no-such-identity-" + secrets.token_hex(3)) == []

    for params in ({"top": 0}, {"top": 1001}, {"top": "many"}, {"outcome": "maybe"}, {"since": "yesterday"},
                   {"identity": "bad\x00"}):
        owner.call("GET", "/logs/login", params=params, expect=400)
