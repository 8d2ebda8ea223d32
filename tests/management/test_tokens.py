"""/api/tokens: passwords shown once, scope maps enforced through the real Docker token flow."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mgmttools import Api, Registry, can_sign_in, granted, password_value

from support import RegistryServer


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def test_token_with_scope_map(server: RegistryServer, owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("ci")
    created = owner.post("/tokens", {"name": name, "scopeMapName": "_repositories_pull"}, expect=201)
    assert set(created) == {"name", "scopeMapName", "status", "createdAt", "credentials"}
    assert created["scopeMapName"] == "_repositories_pull" and created["status"] == "enabled"
    passwords = created["credentials"]["passwords"]
    assert [p["name"] for p in passwords] == ["password1", "password2"]
    assert all(p["expiry"] is None and len(p["value"]) >= 32 for p in passwords)

    shown = owner.get(f"/tokens/{name}")
    assert all(set(p) == {"name", "createdAt", "expiry"} for p in shown["credentials"]["passwords"])
    listed = next(t for t in owner.get("/tokens") if t["name"] == name)
    assert listed == shown
    assert password_value(created, "password1") not in str(owner.get("/tokens"))

    for p in passwords:
        assert can_sign_in(server.url, name, p["value"])
    owner.error("POST", "/tokens", {"name": name, "scopeMapName": "_repositories_pull"}, status=409)
    owner.delete(f"/tokens/{name}")
    assert not can_sign_in(server.url, name, password_value(created, "password1"))
    owner.error("GET", f"/tokens/{name}", status=404)
    owner.error("DELETE", f"/tokens/{name}", status=404)
    assert owner.get("/scope-maps/_repositories_pull")  # the map stays


def test_token_from_repositories_creates_its_scope_map(owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("build")
    created = owner.post("/tokens", {"name": name, "repositories": ["backend/*", "web"],
                                     "actions": ["content/write", "content/read"], "noPasswords": True,
                                     "status": "disabled"}, expect=201)
    assert created["scopeMapName"] == f"{name}-scope-map" and created["status"] == "disabled"
    assert created["credentials"]["passwords"] == []
    scope_map = owner.get(f"/scope-maps/{name}-scope-map")
    assert scope_map["actions"] == ["repositories/backend/*/content/read", "repositories/backend/*/content/write",
                                    "repositories/web/content/read", "repositories/web/content/write"]
    owner.error("POST", "/tokens", {"name": unique("other"), "scopeMapName": "nope-nope"}, status=404)
    # The scope map's name is taken now: another token of that name could not create it.
    owner.delete(f"/tokens/{name}")
    owner.error("POST", "/tokens", {"name": name, "repositories": ["a"], "actions": ["content/read"]}, status=409)


def test_invalid_tokens(owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("bad")
    for body in (
        {"name": name},  # neither scope map nor repositories
        {"name": name, "scopeMapName": "_repositories_pull", "repositories": ["a"], "actions": ["content/read"]},
        {"name": name, "repositories": ["a"]},
        {"name": name, "actions": ["content/read"]},
        {"name": name, "repositories": ["a"], "actions": ["content/execute"]},
        {"name": name, "repositories": ["Not Valid"], "actions": ["content/read"]},
        {"name": "tok", "scopeMapName": "_repositories_pull"},  # too short
        {"name": "t" * 51, "scopeMapName": "_repositories_pull"},
        {"name": name, "scopeMapName": "_repositories_pull", "status": "on"},
        {"name": name, "scopeMapName": "_repositories_pull", "expiry": "2001-01-01T00:00:00Z"},
        {"name": name, "scopeMapName": "_repositories_pull", "expiry": "2031-01-01T00:00:00"},  # no zone
        {"name": name, "scopeMapName": "_repositories_pull", "noPasswords": "true"},
        {"name": name, "scopeMapName": "_repositories_pull", "password": "x"},
    ):
        owner.error("POST", "/tokens", body, status=400)
    owner.error("GET", "/tokens/" + "x" * 300, status=404)


def test_status_and_scope_map_changes(server: RegistryServer, owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("switch")
    created = owner.post("/tokens", {"name": name, "scopeMapName": "_repositories_pull"}, expect=201)
    password = password_value(created, "password1")
    assert granted(server.url, name, password, "any/repo", "pull,push") == ["pull"]

    assert owner.patch(f"/tokens/{name}", {"scopeMapName": "_repositories_push"})["scopeMapName"] == \
        "_repositories_push"
    assert granted(server.url, name, password, "any/repo", "pull,push") == ["pull", "push"]

    assert owner.patch(f"/tokens/{name}", {"status": "disabled"})["status"] == "disabled"
    assert not can_sign_in(server.url, name, password)
    assert owner.patch(f"/tokens/{name}", {"status": "enabled"})["status"] == "enabled"
    assert can_sign_in(server.url, name, password)

    owner.error("PATCH", f"/tokens/{name}", {"scopeMapName": "missing-map"}, status=404)
    owner.error("PATCH", f"/tokens/{name}", {"status": "paused"}, status=400)
    owner.error("PATCH", "/tokens/absent-token", {"status": "enabled"}, status=404)
    owner.delete(f"/tokens/{name}")


def test_token_passwords(server: RegistryServer, owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("pw")
    created = owner.post("/tokens", {"name": name, "scopeMapName": "_repositories_pull"}, expect=201)
    old1, old2 = password_value(created, "password1"), password_value(created, "password2")

    expiry = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    renewed = owner.post(f"/tokens/{name}/credentials", {"name": "password1", "expiry": expiry.isoformat()})
    by_name = {p["name"]: p for p in renewed["credentials"]["passwords"]}
    assert "value" not in by_name["password2"]
    new1 = by_name["password1"]["value"]
    assert datetime.fromisoformat(by_name["password1"]["expiry"]) == expiry
    assert not can_sign_in(server.url, name, old1)
    assert can_sign_in(server.url, name, new1) and can_sign_in(server.url, name, old2)

    owner.delete(f"/tokens/{name}/credentials/password2")
    assert not can_sign_in(server.url, name, old2)
    assert [p["name"] for p in owner.get(f"/tokens/{name}")["credentials"]["passwords"]] == ["password1"]
    owner.error("DELETE", f"/tokens/{name}/credentials/password2", status=404)
    owner.error("DELETE", f"/tokens/{name}/credentials/password3", status=400)
    owner.error("POST", f"/tokens/{name}/credentials", {"name": "password3"}, status=400)
    owner.error("POST", f"/tokens/{name}/credentials", {"name": "password2", "expiry": "2000-01-01T00:00:00Z"},
                status=400)
    owner.error("POST", "/tokens/absent-token/credentials", {"name": "password1"}, status=404)

    # A password that expires stops working.
    short = owner.post(f"/tokens/{name}/credentials", {"name": "password2", "expiry": _in(2)})
    value = password_value(short, "password2")
    assert can_sign_in(server.url, name, value)
    time.sleep(2.5)
    assert not can_sign_in(server.url, name, value)
    owner.delete(f"/tokens/{name}")


def test_token_scope_map_enforced_on_push_and_pull(server: RegistryServer, owner: Api,
                                                   unique: Callable[[str], str]) -> None:
    seed = Registry(server.url, "owner", owner.password)
    assert seed.push("other/app", "v1")
    assert seed.push("backend/seeded", "v1")
    seed.close()
    map_name = unique("team")
    owner.post("/scope-maps", {"name": map_name, "actions": [
        "repositories/backend/*/content/read", "repositories/backend/*/content/write",
        "repositories/docs/content/read"]}, expect=201)
    name = unique("team-token")
    created = owner.post("/tokens", {"name": name, "scopeMapName": map_name}, expect=201)
    token = Registry(server.url, name, password_value(created, "password2"))
    try:
        assert token.push("backend/api", "v1")
        assert token.pull("backend/api", "v1")
        assert token.pull("backend/seeded", "v1")
        assert not token.push("other/app", "v2")
        assert not token.pull("other/app", "v1")
        assert not token.push("docs", "v1")  # read only there
        assert token.delete_tag("backend/api", "v1") in (401, 403)  # no content/delete
        assert granted(server.url, name, token.password, "backend/api", "pull,push,delete") == ["pull", "push"]
        assert granted(server.url, name, token.password, "other/app", "pull") == []

        # Changing the map changes what the token may do.
        owner.patch(f"/scope-maps/{map_name}", {"addActions": ["repositories/other/*/content/read"]})
        assert token.pull("other/app", "v1")
        owner.patch(f"/scope-maps/{map_name}", {"removeActions": ["repositories/backend/*/content/write"]})
        assert not token.push("backend/api", "v2")
    finally:
        token.close()
    owner.delete(f"/tokens/{name}")


def test_repository_token_cannot_use_the_control_plane(server: RegistryServer, owner: Api,
                                                        unique: Callable[[str], str]) -> None:
    name = unique("admin-token")
    created = owner.post("/tokens", {"name": name, "scopeMapName": "_repositories_admin"}, expect=201)
    with Api(server.url, name, password_value(created, "password1")) as token:
        error = token.error("GET", "/registry", status=403)
        assert "token" in error["message"]
        token.error("GET", "/tokens", status=403)
        token.error("POST", "/users", {"name": "sneaky"}, status=403)
    with Api(server.url, name, "wrong") as wrong:
        wrong.error("GET", "/registry", status=401)
    owner.delete(f"/tokens/{name}")
