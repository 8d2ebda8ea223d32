"""Registries as resources through /api/registries: CRUD, validation, operator rights, downgrade
refusals naming what they would strand, limits, and routing of /api by Host and X-Cargohold-Registry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from mgmttools import Api
from regtools import Created, create_registry, unique_name

from support import RegistryServer


def test_create_show_list_update_delete(operator: Api, ops_registry: RegistryServer) -> None:
    name = unique_name("Crud")
    created = operator.post("/registries", {"name": name, "loginServer": "Crud.Example.test:8443", "sku": "standard",
                                            "limitOverrides": {"tokens": 7}, "storageQuotaBytes": 1 << 30},
                            expect=201)
    assert created["name"] == name.lower() and created["loginServer"] == "crud.example.test:8443"
    assert created["sku"] == "Standard" and created["limitOverrides"] == {"tokens": 7}
    assert created["storageQuotaBytes"] == 1 << 30 and created["storageUsedBytes"] == 0
    assert created["isDefault"] is False and created["ownerCredentials"]["username"] == "owner"
    shown = operator.get(f"/registries/{name.upper()}")  # names are case-insensitive
    assert "ownerCredentials" not in shown and shown["name"] == name.lower()
    listed = {r["name"]: r for r in operator.get("/registries")}
    assert name.lower() in listed and listed["cargohold"]["isDefault"] is True

    changed = operator.patch(f"/registries/{name}", {"sku": "Premium", "loginServer": "crud2.example.test",
                                                     "limitOverrides": {"tokens": None, "webhooks": 3},
                                                     "storageQuotaBytes": None})
    assert changed["sku"] == "Premium" and changed["loginServer"] == "crud2.example.test"
    assert changed["limitOverrides"] == {"webhooks": 3} and changed["storageQuotaBytes"] is None
    kept = operator.patch(f"/registries/{name}", {"limitOverrides": {"tokens": 9}})
    assert kept["limitOverrides"] == {"webhooks": 3, "tokens": 9} and kept["loginServer"] == "crud2.example.test"

    # The new owner administers its own registry, addressed by Host.
    with Api(ops_registry.url, "owner", created["ownerCredentials"]["password"]) as own:
        own.http.headers["Host"] = "crud2.example.test"
        assert own.get("/registry")["name"] == name.lower()
    operator.delete(f"/registries/{name}")
    operator.error("GET", f"/registries/{name}", status=404)
    operator.error("DELETE", f"/registries/{name}", status=404)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "abcd", "loginServer": "a.test", "sku": "Basic"}, "name"),
    ({"name": "a" * 51, "loginServer": "a.test", "sku": "Basic"}, "name"),
    ({"name": "bad-name", "loginServer": "a.test", "sku": "Basic"}, "name"),
    ({"name": "goodname1", "loginServer": "", "sku": "Basic"}, "loginServer"),
    ({"name": "goodname1", "loginServer": "http://a.test", "sku": "Basic"}, "loginServer"),
    ({"name": "goodname1", "loginServer": "a.test:0", "sku": "Basic"}, "loginServer"),
    ({"name": "goodname1", "loginServer": "a.test:70000", "sku": "Basic"}, "loginServer"),
    ({"name": "goodname1", "loginServer": "a.test/x", "sku": "Basic"}, "loginServer"),
    ({"name": "goodname1", "loginServer": "-a.test", "sku": "Basic"}, "loginServer"),
    ({"name": "goodname1", "loginServer": "a.test", "sku": "Gold"}, "sku"),
    ({"name": "goodname1", "loginServer": "a.test", "sku": "Basic", "limitOverrides": {"nope": 1}}, "limit"),
    ({"name": "goodname1", "loginServer": "a.test", "sku": "Basic", "limitOverrides": {"tokens": -1}}, "limit"),
    ({"name": "goodname1", "loginServer": "a.test", "sku": "Basic", "storageQuotaBytes": -5}, "storageQuotaBytes"),
    ({"name": "goodname1", "loginServer": "a.test", "sku": "Basic", "storageQuotaBytes": 2**64}, "storageQuotaBytes"),
    ({"name": "goodname1", "loginServer": "a.test", "sku": "Basic", "limitOverrides": {"tokens": 2**64}}, "limit"),
    ({"name": "goodname1", "loginServer": "a.test"}, "sku"),
    ({"name": "goodname1", "loginServer": "a.test", "sku": "Basic", "extra": 1}, "extra"),
])
def test_create_validation(operator: Api, body: dict[str, object], field: str) -> None:
    error = operator.error("POST", "/registries", body, status=400)
    assert field in str(error)
    assert all(r["name"] != "goodname1" for r in operator.get("/registries"))


def test_ipv6_and_ip_login_servers(operator: Api) -> None:
    for server in ("[::1]:5000", "10.1.2.3:5000", "registry.example.test"):
        created = create_registry(operator, "Basic", login_server=server)
        operator.delete(f"/registries/{created.name}")


def test_names_and_login_servers_are_unique(operator: Api, new_registry: Created, ops_registry: RegistryServer) -> None:
    taken_name = operator.error("POST", "/registries", {"name": new_registry.name.upper(), "loginServer": "x1.test",
                                                        "sku": "Basic"}, status=409)
    assert new_registry.name in taken_name["message"]
    taken_server = operator.error("POST", "/registries", {"name": unique_name(), "sku": "Basic",
                                                          "loginServer": new_registry.login_server.upper()}, status=409)
    assert new_registry.login_server in taken_server["message"]
    operator.error("POST", "/registries", {"name": unique_name(), "sku": "Basic", "loginServer": ops_registry.host},
                   status=409)
    operator.error("PATCH", f"/registries/{new_registry.name}", {"loginServer": ops_registry.host}, status=409)


def test_only_an_owner_of_the_default_registry_is_an_operator(operator: Api, ops_registry: RegistryServer,
                                                             new_registry: Created) -> None:
    reader = unique_name("reader")
    password = operator.post("/users", {"name": reader}, expect=201)["password"]
    operator.post("/role-assignments", {"assignee": reader, "role": "Contributor"}, expect=201)
    with Api(ops_registry.url, reader, password) as contributor:
        error = contributor.error("GET", "/registries", status=403)
        assert "Owner role on the default registry" in error["message"]
        contributor.error("POST", "/registries", {"name": unique_name(), "loginServer": "z.test", "sku": "Basic"},
                          status=403)
    # The owner of another registry is no operator, whatever host it calls.
    with new_registry.api(ops_registry.url) as other_owner:
        other_owner.error("GET", "/registries", status=401)  # its credentials do not exist on the default registry
    with Api(ops_registry.url, None, None) as anonymous:
        anonymous.error("GET", "/registries", status=401)
    # An operator authenticates against the default registry even when the Host names another one.
    operator.http.headers["Host"] = new_registry.login_server
    assert any(r["name"] == new_registry.name for r in operator.get("/registries"))


def test_the_default_registry_cannot_be_deleted(operator: Api) -> None:
    error = operator.error("DELETE", "/registries/cargohold", status=409)
    assert "default registry" in error["message"]


def test_downgrade_refusals_name_what_they_would_strand(operator: Api, ops_registry: RegistryServer) -> None:
    created = create_registry(operator, "Premium", limitOverrides={"tokens": 3})
    own = created.api(ops_registry.url)
    own.patch("/registry", {"anonymousPullEnabled": True})
    for i in range(3):
        own.post("/tokens", {"name": f"tok{i}-abc", "repositories": ["app"], "actions": ["content/read"],
                             "noPasswords": True}, expect=201)
    # Basic: anonymous pull and the 3 tokens (limit 3 stays) - only anonymous pull blocks; tokens fit.
    error = operator.error("PATCH", f"/registries/{created.name}", {"sku": "Basic"}, status=409)
    assert "anonymous pull is enabled" in error["message"]
    assert error["detail"]["stranded"] == [error["message"].split(": ", 1)[1]]
    # Lowering the token limit below the count is refused, naming the tokens (and the scope maps they made).
    error = operator.error("PATCH", f"/registries/{created.name}", {"limitOverrides": {"tokens": 2,
                                                                                    "scope_maps": 1}}, status=409)
    assert "3 tokens exist but the new limit is 2" in error["message"]
    assert "3 user-defined scope maps exist but the new limit is 1" in error["message"]
    own.patch("/registry", {"anonymousPullEnabled": False})
    assert operator.patch(f"/registries/{created.name}", {"sku": "Basic"})["sku"] == "Basic"
    own.close()
    operator.delete(f"/registries/{created.name}")


def test_leaving_premium_with_retention_enabled_is_refused(operator: Api, ops_registry: RegistryServer) -> None:
    created = create_registry(operator, "Premium")
    with created.api(ops_registry.url) as own:
        own.patch("/registry/retention", {"status": "enabled", "days": 3})
        error = operator.error("PATCH", f"/registries/{created.name}", {"sku": "Standard"}, status=409)
        assert "retention policy is enabled" in error["message"]
        own.patch("/registry/retention", {"status": "disabled"})
    assert operator.patch(f"/registries/{created.name}", {"sku": "Standard"})["sku"] == "Standard"
    operator.delete(f"/registries/{created.name}")


def test_limits_refuse_tokens_and_scope_maps(operator: Api, ops_registry: RegistryServer) -> None:
    created = create_registry(operator, "Basic", limitOverrides={"tokens": 2, "scope_maps": 2})
    with created.api(ops_registry.url) as own:
        own.post("/scope-maps", {"name": "maps-one", "actions": ["repositories/a/content/read"]}, expect=201)
        own.post("/tokens", {"name": "token-one", "scopeMapName": "maps-one", "noPasswords": True}, expect=201)
        own.post("/tokens", {"name": "token-two", "repositories": ["b"], "actions": ["content/read"],
                             "noPasswords": True}, expect=201)  # makes the second scope map
        error = own.error("POST", "/tokens", {"name": "token-three", "scopeMapName": "maps-one"}, status=409)
        assert error["message"] == f"registry '{created.name}' (Basic) has reached its limit of 2 tokens"
        error = own.error("POST", "/scope-maps", {"name": "maps-three", "actions": ["repositories/a/content/read"]},
                          status=409)
        assert error["message"] == f"registry '{created.name}' (Basic) has reached its limit of 2 scope maps"
        assert len(own.get("/tokens")) == 2
        usage = {r["name"]: r for r in own.get("/registry/usage")["value"]}
        assert usage["Tokens"] == {"name": "Tokens", "limit": 2, "currentValue": 2, "unit": "Count"}
        assert usage["ScopeMaps"]["currentValue"] == 2 and usage["ScopeMaps"]["limit"] == 2
    # Raising the limit lets the next one through at once.
    operator.patch(f"/registries/{created.name}", {"limitOverrides": {"tokens": 3}})
    with created.api(ops_registry.url) as own:
        own.post("/tokens", {"name": "token-three", "scopeMapName": "maps-one", "noPasswords": True}, expect=201)
    operator.delete(f"/registries/{created.name}")


def test_creates_racing_at_the_limit_cannot_overshoot_it(operator: Api, ops_registry: RegistryServer) -> None:
    """The count is taken inside the insert's transaction: 12 racers for 3 free slots, exactly 3 win."""
    created = create_registry(operator, "Basic", limitOverrides={"tokens": 3, "scope_maps": 3})
    with created.api(ops_registry.url) as own:
        own.post("/scope-maps", {"name": "race-maps", "actions": ["repositories/a/content/read"]}, expect=201)

    def create(kind: str, i: int) -> int:
        with created.api(ops_registry.url) as racer:
            if kind == "tokens":
                body = {"name": f"racer-{i:02d}", "scopeMapName": "race-maps", "noPasswords": True}
            else:
                body = {"name": f"racer-maps-{i:02d}", "actions": ["repositories/a/content/read"]}
            return racer.call("POST", f"/{kind}", body).status_code

    for kind, free in (("tokens", 3), ("scope-maps", 2)):
        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = sorted(pool.map(lambda i, k=kind: create(k, i), range(12)))  # type: ignore[misc]
        assert statuses == [201] * free + [409] * (12 - free), (kind, statuses)
    with created.api(ops_registry.url) as own:
        usage = {r["name"]: r["currentValue"] for r in own.get("/registry/usage")["value"]}
        assert (usage["Tokens"], usage["ScopeMaps"]) == (3, 3)
    operator.delete(f"/registries/{created.name}")


def test_api_addresses_the_registry_by_host_or_header(operator: Api, ops_registry: RegistryServer,
                                                      new_registry: Created) -> None:
    password = new_registry.owner_password
    with Api(ops_registry.url, "owner", password) as by_header:
        by_header.http.headers["X-Cargohold-Registry"] = new_registry.name.upper()
        assert by_header.get("/registry")["name"] == new_registry.name
        by_header.http.headers["X-Cargohold-Registry"] = "nosuchregistry"
        assert "nosuchregistry" in by_header.error("GET", "/registry", status=404)["message"]
    with Api(ops_registry.url, "owner", password) as wrong_host:
        wrong_host.error("GET", "/registry", status=401)  # the default registry does not know this password
    with new_registry.api(ops_registry.url) as own:
        own.http.headers["Host"] = new_registry.login_server.upper()  # hosts match case-insensitively
        assert own.get("/registry")["name"] == new_registry.name
    # The default registry answers a host no registry claims.
    with Api(ops_registry.url, ops_registry.username, ops_registry.password) as default:
        default.http.headers["Host"] = "unclaimed.example.test:1234"
        assert default.get("/registry")["name"] == "cargohold"


def test_token_endpoints_and_challenges_follow_the_host(ops_registry: RegistryServer, new_registry: Created) -> None:
    with new_registry.host_client(ops_registry.url) as http:
        challenge = http.get("/v2/").headers["www-authenticate"]
        assert f'service="{new_registry.login_server}"' in challenge
        assert f'realm="http://{new_registry.login_server}/oauth2/token"' in challenge
        token = http.get("/oauth2/token", params={"scope": "repository:app:pull"},
                         auth=("owner", new_registry.owner_password))
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['token']}"}
        assert http.get("/v2/", headers=bearer).status_code == 200
        refresh = http.post("/oauth2/exchange", data={"username": "owner", "password": new_registry.owner_password})
        assert refresh.status_code == 200
    # The same token and credentials mean nothing to the default registry (in either worker, token caches included).
    for _ in range(4):
        assert httpx.get(ops_registry.url + "/v2/", headers=bearer).status_code == 401
    assert httpx.get(ops_registry.url + "/oauth2/token", auth=("owner", new_registry.owner_password)).status_code == 401
    refused = httpx.post(ops_registry.url + "/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh.json()["refresh_token"]})
    assert refused.status_code == 401
    # And the default registry's tokens mean nothing to the new one.
    default_token = httpx.get(ops_registry.url + "/oauth2/token", auth=ops_registry.basic_auth).json()["token"]
    with new_registry.host_client(ops_registry.url) as http:
        assert http.get("/v2/", headers={"Authorization": f"Bearer {default_token}"}).status_code == 401
        assert http.get("/v2/", auth=ops_registry.basic_auth).status_code == 401


def test_a_deleted_registry_stops_answering_at_once(operator: Api, ops_registry: RegistryServer) -> None:
    created = create_registry(operator, "Basic")
    with created.host_client(ops_registry.url) as http:
        assert http.get("/v2/", auth=("owner", created.owner_password)).status_code == 200
        operator.delete(f"/registries/{created.name}")
        # Its host now reaches the default registry, in every worker, where that password means nothing.
        for _ in range(6):
            assert http.get("/v2/", auth=("owner", created.owner_password)).status_code == 401
