"""/api/users, /api/service-principals and /api/workload-identities."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mgmttools import Api, can_sign_in

from support import RegistryServer


def test_users(server: RegistryServer, owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("alice")
    created = owner.post("/users", {"name": name}, expect=201)
    assert set(created) == {"name", "kind", "enabled", "createdAt", "password"}
    assert created["kind"] == "user" and created["enabled"] is True and len(created["password"]) >= 20
    assert can_sign_in(server.url, name, created["password"])
    listed = next(u for u in owner.get("/users") if u["name"] == name)
    assert listed == {k: v for k, v in created.items() if k != "password"}
    assert owner.get(f"/users/{name}") == listed
    assert "owner" in [u["name"] for u in owner.get("/users")]

    chosen = unique("bob")
    owner.post("/users", {"name": chosen, "password": "correct horse battery"}, expect=201)
    assert can_sign_in(server.url, chosen, "correct horse battery")
    owner.error("POST", "/users", {"name": chosen}, status=409)
    for body in ({"name": ""}, {"name": "-dash"}, {"name": "has space"}, {"name": "x" * 65},
                 {"name": "00000000-0000-0000-0000-000000000000"}, {"name": unique("c"), "password": "short"},
                 {"name": unique("c"), "password": 12345678}, {"name": unique("c"), "role": "Owner"}):
        owner.error("POST", "/users", body, status=400)

    owner.delete(f"/users/{name}")
    assert not can_sign_in(server.url, name, created["password"])
    owner.error("GET", f"/users/{name}", status=404)
    owner.error("DELETE", f"/users/{name}", status=404)
    owner.error("DELETE", "/users/owner", status=409)
    owner.delete(f"/users/{chosen}")


def test_user_deletion_removes_its_assignments(owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("gone")
    owner.post("/users", {"name": name}, expect=201)
    owner.post("/role-assignments", {"assignee": name, "role": "Reader"}, expect=201)
    owner.delete(f"/users/{name}")
    assert owner.get("/role-assignments", assignee=name) == []


def test_service_principals(server: RegistryServer, owner: Api) -> None:
    created = owner.post("/service-principals", {"name": "deploy pipeline"}, expect=201)
    assert set(created) == {"clientId", "name", "enabled", "createdAt", "credentials", "clientSecret"}
    client_id, secret = created["clientId"], created["clientSecret"]
    uuid.UUID(client_id)
    assert created["name"] == "deploy pipeline"
    [credential] = created["credentials"]
    assert credential["name"] == "secret" and set(credential) == {"name", "createdAt", "expiry"}
    expiry = datetime.fromisoformat(credential["expiry"])
    assert timedelta(days=364) < expiry - datetime.now(UTC) < timedelta(days=367)

    shown = owner.get(f"/service-principals/{client_id}")
    assert shown == {k: v for k, v in created.items() if k != "clientSecret"}
    assert next(sp for sp in owner.get("/service-principals") if sp["clientId"] == client_id) == shown
    assert secret not in str(owner.get("/service-principals"))

    # It signs in with its client id; with a role, it uses the control plane.
    assert can_sign_in(server.url, client_id, secret)
    owner.post("/role-assignments", {"assignee": client_id, "role": "Reader"}, expect=201)
    assignment = owner.get("/role-assignments", assignee=client_id)[0]
    assert assignment["assigneeKind"] == "servicePrincipal"
    with Api(server.url, client_id, secret) as sp:
        sp.get("/registry")
        sp.error("POST", "/users", {"name": "nope"}, status=403)

    reset = owner.post(f"/service-principals/{client_id}/credentials/reset", {"years": 2})
    new_secret = reset["clientSecret"]
    assert new_secret != secret
    assert datetime.fromisoformat(reset["credentials"][0]["expiry"]) - datetime.now(UTC) > timedelta(days=700)
    assert not can_sign_in(server.url, client_id, secret)
    assert can_sign_in(server.url, client_id, new_secret)
    assert owner.post(f"/service-principals/{client_id}/credentials/reset")["clientSecret"] != new_secret

    for body in ({"name": ""}, {"name": "x", "years": 0}, {"name": "x", "years": 11}, {"name": "x", "years": "1"},
                 {"name": "bad\x00name"}, {"years": 1}):
        owner.error("POST", "/service-principals", body, status=400)
    owner.error("POST", f"/service-principals/{client_id}/credentials/reset", {"years": 99}, status=400)
    owner.error("GET", f"/service-principals/{uuid.uuid4()}", status=404)
    owner.error("GET", "/service-principals/not-a-uuid", status=404)
    owner.delete(f"/service-principals/{client_id}")
    owner.error("DELETE", f"/service-principals/{client_id}", status=404)
    owner.error("POST", f"/service-principals/{client_id}/credentials/reset", status=404)
    assert owner.get("/role-assignments", assignee=client_id) == []


def test_workload_identities(owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("workload")
    created = owner.post("/workload-identities", {"name": name, "description": "CI jobs"}, expect=201)
    assert created == {**created, "name": name, "description": "CI jobs", "enabled": True,
                       "federatedCredentials": []}
    owner.error("POST", "/workload-identities", {"name": name}, status=409)
    owner.error("POST", "/workload-identities", {"name": "-bad"}, status=400)

    credential = owner.post(f"/workload-identities/{name}/federated-credentials", {
        "name": "main-branch", "issuer": "https://token.actions.example.com",
        "subject": "repo:org/app:ref:refs/heads/main"}, expect=201)
    assert credential == {**credential, "name": "main-branch", "issuer": "https://token.actions.example.com",
                          "subject": "repo:org/app:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}
    owner.post(f"/workload-identities/{name}/federated-credentials", {
        "name": "release", "issuer": "https://token.actions.example.com", "subject": "repo:org/app:environment:prod",
        "audiences": ["cargohold"]}, expect=201)
    for body, status in (
        ({"name": "main-branch", "issuer": "https://other.example.com", "subject": "s"}, 409),
        ({"name": "again", "issuer": "https://token.actions.example.com",
          "subject": "repo:org/app:ref:refs/heads/main"}, 409),
        ({"name": "two-audiences", "issuer": "https://i.example.com", "subject": "s", "audiences": ["a", "b"]}, 400),
        ({"name": "no-audience", "issuer": "https://i.example.com", "subject": "s", "audiences": []}, 400),
        ({"name": "plain-http", "issuer": "http://i.example.com", "subject": "s"}, 400),
        ({"name": "no-subject", "issuer": "https://i.example.com"}, 400),
    ):
        owner.error("POST", f"/workload-identities/{name}/federated-credentials", body, status=status)
    owner.error("POST", "/workload-identities/absent-workload/federated-credentials",
                {"name": "x-cred", "issuer": "https://i.example.com", "subject": "s"}, status=404)

    shown = owner.get(f"/workload-identities/{name}")
    assert [c["name"] for c in shown["federatedCredentials"]] == ["main-branch", "release"]
    assert next(w for w in owner.get("/workload-identities") if w["name"] == name) == shown

    assignment = owner.post("/role-assignments", {"assignee": name, "role": "AcrPull",
                                                  "assigneeKind": "workloadIdentity"}, expect=201)
    assert assignment["assigneeKind"] == "workloadIdentity"

    owner.delete(f"/workload-identities/{name}/federated-credentials/release")
    owner.error("DELETE", f"/workload-identities/{name}/federated-credentials/release", status=404)
    assert [c["name"] for c in owner.get(f"/workload-identities/{name}")["federatedCredentials"]] == ["main-branch"]
    owner.delete(f"/workload-identities/{name}")
    owner.error("GET", f"/workload-identities/{name}", status=404)
    owner.error("DELETE", f"/workload-identities/{name}", status=404)
    assert owner.get("/role-assignments", assignee=name) == []
