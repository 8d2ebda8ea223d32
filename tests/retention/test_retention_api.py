"""GET/PATCH /api/registry/retention on a real server: the contract, validation, roles, the SKU rule."""

from __future__ import annotations

import secrets
from datetime import datetime

from mgmttools import Api
from retentiontools import server_sql

from support import RegistryServer


def test_show_the_default_policy(owner: Api) -> None:
    policy = owner.get("/registry/retention")
    assert set(policy) == {"status", "days", "type", "lastUpdatedTime"}
    assert (policy["status"], policy["days"], policy["type"]) == ("disabled", 7, "UntaggedManifests")
    assert policy["lastUpdatedTime"] is None or policy["lastUpdatedTime"].endswith("Z")


def test_update_and_show(owner: Api) -> None:
    try:
        updated = owner.patch("/registry/retention", {"status": "enabled", "days": 30, "type": "UntaggedManifests"})
        assert (updated["status"], updated["days"]) == ("enabled", 30)
        assert datetime.fromisoformat(updated["lastUpdatedTime"].replace("Z", "+00:00"))
        assert owner.patch("/registry/retention", {"days": 0})["days"] == 0  # status unchanged
        assert owner.get("/registry/retention")["status"] == "enabled"
        assert owner.patch("/registry/retention", {})["days"] == 0  # nothing to change
    finally:
        owner.patch("/registry/retention", {"status": "disabled", "days": 7})


def test_bad_input_is_400_and_changes_nothing(owner: Api) -> None:
    before = owner.get("/registry/retention")
    for body, needle in (({"days": 366}, "from 0 to 365"), ({"days": -1}, "from 0 to 365"),
                         ({"status": "on"}, "enabled or disabled"),
                         ({"status": "enabled", "type": "TaggedManifests"}, "UntaggedManifests")):
        assert needle in owner.error("PATCH", "/registry/retention", body, status=400)["message"]
    for body in ({"days": "7"}, {"days": 1.5}, {"days": True}, {"status": True}, {"enabled": True}):
        owner.error("PATCH", "/registry/retention", body, status=400)
    assert owner.get("/registry/retention") == before


def test_readers_show_contributors_change(server: RegistryServer, owner: Api) -> None:
    for role, can_write in (("Reader", False), ("Contributor", True), ("AcrPush", None)):
        name = "ret" + secrets.token_hex(4)
        password = owner.post("/users", {"name": name}, expect=201)["password"]
        owner.post("/role-assignments", {"assignee": name, "role": role}, expect=201)
        with Api(server.url, name, password) as api:
            if can_write is None:
                assert "Reader" in api.error("GET", "/registry/retention", status=403)["message"]
                continue
            api.get("/registry/retention")
            if can_write:
                api.patch("/registry/retention", {"days": 7})
            else:
                assert "Contributor" in api.error("PATCH", "/registry/retention", {"days": 7}, status=403)["message"]


def test_enabling_needs_the_premium_sku(server: RegistryServer, owner: Api) -> None:
    name = owner.get("/registry")["name"]
    for sku in ("Basic", "Standard"):
        server_sql(server, "UPDATE registry_settings SET sku = :s", s=sku)
        try:
            error = owner.error("PATCH", "/registry/retention", {"status": "enabled", "days": 0}, status=409)
            assert error["message"] == f"the retention policy needs the Premium SKU (registry '{name}' is {sku})"
            assert owner.get("/registry/retention")["status"] == "disabled"
            assert owner.patch("/registry/retention", {"status": "disabled"})["status"] == "disabled"
        finally:
            server_sql(server, "UPDATE registry_settings SET sku = 'Premium'")


def test_the_openapi_document_lists_both_operations(owner: Api) -> None:
    paths = owner.get("/openapi.json")["paths"]
    assert {"get", "patch"} <= set(paths["/registry/retention"])


def test_a_downgrade_from_premium_is_refused_while_the_policy_is_on(owner: Api) -> None:
    name = owner.get("/registry")["name"]
    owner.patch("/registry/retention", {"status": "enabled", "days": 30})
    try:
        error = owner.error("PATCH", f"/registries/{name}", {"sku": "Standard"}, status=409)
        assert "retention policy" in error["message"], error
        assert owner.get("/registry")["sku"] == "Premium"
    finally:
        owner.patch("/registry/retention", {"status": "disabled", "days": 7})
    try:
        assert owner.patch(f"/registries/{name}", {"sku": "Standard"})["sku"] == "Standard"
        refused = owner.error("PATCH", "/registry/retention", {"status": "enabled"}, status=409)
        assert "Premium SKU" in refused["message"]
    finally:
        owner.patch(f"/registries/{name}", {"sku": "Premium"})
