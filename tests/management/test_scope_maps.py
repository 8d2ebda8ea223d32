"""/api/scope-maps: ACR action syntax, system maps read-only, maps in use kept."""

from __future__ import annotations

from collections.abc import Callable

from mgmttools import Api

SYSTEM = {"_repositories_admin", "_repositories_pull", "_repositories_push"}


def test_system_maps_listed_and_read_only(owner: Api) -> None:
    maps = {m["name"]: m for m in owner.get("/scope-maps")}
    assert set(maps) >= SYSTEM
    assert maps["_repositories_pull"] == {**maps["_repositories_pull"], "type": "SystemDefined",
                                          "actions": ["repositories/*/content/read"]}
    assert maps["_repositories_push"]["actions"] == ["repositories/*/content/read", "repositories/*/content/write"]
    assert len(maps["_repositories_admin"]["actions"]) == 5
    owner.error("PATCH", "/scope-maps/_repositories_pull", {"addActions": ["repositories/a/content/write"]},
                status=409)
    owner.error("DELETE", "/scope-maps/_repositories_admin", status=409)
    assert owner.get("/scope-maps/_repositories_push")["type"] == "SystemDefined"


def test_scope_map_lifecycle(owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("backend")
    created = owner.post("/scope-maps", {
        "name": name, "description": "backend readers",
        "actions": ["repositories/backend/*/metadata/read", "repositories/backend/*/content/read",
                    "repositories/backend/*/content/read", "repositories/web/content/read"],
    }, expect=201)
    assert created["name"] == name and created["type"] == "UserDefined" and created["description"] == "backend readers"
    assert created["actions"] == ["repositories/backend/*/content/read", "repositories/backend/*/metadata/read",
                                  "repositories/web/content/read"]
    assert created["createdAt"] == created["updatedAt"]
    assert owner.get(f"/scope-maps/{name}") == created
    assert name in [m["name"] for m in owner.get("/scope-maps")]

    updated = owner.patch(f"/scope-maps/{name}", {
        "description": "changed", "addActions": ["repositories/web/content/write"],
        "removeActions": ["repositories/web/content/read", "repositories/absent/content/read"]})
    assert updated["description"] == "changed"
    assert updated["actions"] == ["repositories/backend/*/content/read", "repositories/backend/*/metadata/read",
                                  "repositories/web/content/write"]
    assert updated["updatedAt"] >= created["updatedAt"]
    assert owner.patch(f"/scope-maps/{name}", {})["actions"] == updated["actions"]

    owner.error("POST", "/scope-maps", {"name": name, "actions": ["repositories/x/content/read"]}, status=409)
    owner.delete(f"/scope-maps/{name}")
    owner.error("GET", f"/scope-maps/{name}", status=404)
    owner.error("DELETE", f"/scope-maps/{name}", status=404)
    owner.error("PATCH", f"/scope-maps/{name}", {"description": "x"}, status=404)


def test_invalid_scope_maps(owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("bad")
    for actions in ([], ["backend/content/read"], ["repositories/backend/content/execute"],
                    ["repositories/backend/metadata/delete"], ["repositories/Upper/content/read"],
                    ["repositories//content/read"], ["repositories/a/*/b/content/read"], ["repositories/content/read"]):
        error = owner.error("POST", "/scope-maps", {"name": name, "actions": actions}, status=400)
        assert error["message"]
    for bad_name in ("abc", "_mine", "has space", "x" * 65, "ünï-code"):
        owner.error("POST", "/scope-maps", {"name": bad_name, "actions": ["repositories/a/content/read"]},
                    status=400)
    owner.error("POST", "/scope-maps", {"name": name}, status=400)  # actions required
    owner.error("POST", "/scope-maps", {"name": name, "actions": ["repositories/a/content/read"],
                                        "extra": 1}, status=400)
    owner.error("POST", "/scope-maps", {"name": name, "description": "\x00",
                                        "actions": ["repositories/a/content/read"]}, status=400)
    owner.post("/scope-maps", {"name": name, "actions": ["repositories/a/content/read"]}, expect=201)
    owner.error("PATCH", f"/scope-maps/{name}", {"addActions": ["nope"]}, status=400)
    owner.error("GET", "/scope-maps/%00", status=404)


def test_map_in_use_cannot_be_deleted(owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("inuse")
    owner.post("/scope-maps", {"name": name, "actions": ["repositories/a/content/read"]}, expect=201)
    token = unique("tok")
    owner.post("/tokens", {"name": token, "scopeMapName": name, "noPasswords": True}, expect=201)
    owner.error("DELETE", f"/scope-maps/{name}", status=409)
    owner.delete(f"/tokens/{token}")
    owner.delete(f"/scope-maps/{name}")
