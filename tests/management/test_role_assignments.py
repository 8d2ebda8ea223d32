"""/api/role-assignments and what roles open on the control plane and the data plane."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from mgmttools import Api, Registry, granted

from support import RegistryServer


def test_reader_reads_but_cannot_write(as_user: Callable[..., Api]) -> None:
    reader = as_user("Reader")
    for path in ("/registry", "/tokens", "/scope-maps", "/users", "/service-principals", "/role-assignments",
                 "/workload-identities", "/logs/login"):
        reader.get(path)
    reader.error("PATCH", "/registry", {"anonymousPullEnabled": True}, status=403)
    reader.error("POST", "/users", {"name": "nope"}, status=403)
    reader.error("POST", "/tokens", {"name": "reader-token", "scopeMapName": "_repositories_pull"}, status=403)
    reader.error("POST", "/scope-maps", {"name": "reader-map", "actions": ["repositories/a/content/read"]},
                 status=403)
    reader.error("DELETE", "/users/owner", status=403)
    reader.error("POST", "/role-assignments", {"assignee": reader.username, "role": "Owner"}, status=403)


def test_contributor_writes_but_cannot_assign_roles(as_user: Callable[..., Api], owner: Api,
                                                    unique: Callable[[str], str]) -> None:
    contributor = as_user("Contributor")
    name = unique("contrib")
    contributor.post("/scope-maps", {"name": name, "actions": ["repositories/a/content/read"]}, expect=201)
    contributor.post("/tokens", {"name": name, "scopeMapName": name, "noPasswords": True}, expect=201)
    contributor.delete(f"/tokens/{name}")
    error = contributor.error("POST", "/role-assignments", {"assignee": contributor.username, "role": "Owner"},
                              status=403)
    assert "Owner" in error["message"]
    some_id = owner.get("/role-assignments")[0]["id"]
    contributor.error("DELETE", f"/role-assignments/{some_id}", status=403)
    contributor.get("/role-assignments")


def test_no_role_and_repository_scoped_roles_do_not_open_the_control_plane(as_user: Callable[..., Api]) -> None:
    nobody = as_user(None)
    nobody.error("GET", "/registry", status=403)
    scoped_owner = as_user("Owner", "repositories/backend/*")
    scoped_owner.error("GET", "/registry", status=403)
    scoped_owner.error("POST", "/users", {"name": "nope"}, status=403)


def test_assignment_lifecycle_and_filters(server: RegistryServer, owner: Api, as_user: Callable[..., Api]) -> None:
    user = as_user(None)
    assignment = owner.post("/role-assignments", {"assignee": user.username, "role": "acrpush",
                                                  "scope": "repositories/backend/*"}, expect=201)
    assert set(assignment) == {"id", "assignee", "assigneeKind", "role", "scope", "createdAt"}
    assert assignment["assignee"] == user.username and assignment["assigneeKind"] == "user"
    assert assignment["role"] == "AcrPush" and assignment["scope"] == "repositories/backend/*"
    uuid.UUID(assignment["id"])
    owner.error("POST", "/role-assignments", {"assignee": user.username, "role": "AcrPush",
                                              "scope": "repositories/backend/*"}, status=409)
    registry_wide = owner.post("/role-assignments", {"assignee": user.username, "role": "AcrPull"}, expect=201)
    assert registry_wide["scope"] == ""

    mine = owner.get("/role-assignments", assignee=user.username)
    assert {a["id"] for a in mine} == {assignment["id"], registry_wide["id"]}
    assert [a["id"] for a in owner.get("/role-assignments", assignee=user.username, role="acrpull")] == \
        [registry_wide["id"]]
    assert [a["id"] for a in owner.get("/role-assignments", assignee=user.username, scope="")] == \
        [registry_wide["id"]]
    assert [a["id"] for a in owner.get("/role-assignments", assignee=user.username,
                                       scope="repositories/backend/*")] == [assignment["id"]]
    assert owner.get("/role-assignments", assignee=user.username, assigneeKind="servicePrincipal") == []
    assert owner.get("/role-assignments", assignee="nobody-by-this-name") == []
    owners = owner.get("/role-assignments", role="Owner", scope="")
    assert any(a["assignee"] == "owner" for a in owners)
    for params in ({"role": "Boss"}, {"scope": "backend/*"}, {"assigneeKind": "group"}):
        owner.call("GET", "/role-assignments", params=params, expect=400)

    # Data plane: AcrPush on backend/* lets the user push there only; AcrPull registry-wide pulls anything.
    assert granted(server.url, user.username, user.password, "backend/svc", "pull,push") == \
        ["pull", "push"]
    assert granted(server.url, user.username, user.password, "frontend/svc", "pull,push") == ["pull"]
    registry = Registry(server.url, user.username, user.password)
    assert registry.push("backend/svc", "v1")
    assert not registry.push("frontend/svc", "v1")
    registry.close()

    owner.delete(f"/role-assignments/{assignment['id']}")
    assert granted(server.url, user.username, user.password, "backend/svc", "pull,push") == ["pull"]
    owner.error("DELETE", f"/role-assignments/{assignment['id']}", status=404)
    owner.error("DELETE", "/role-assignments/not-an-id", status=404)


def test_invalid_assignments(owner: Api, as_user: Callable[..., Api]) -> None:
    user = as_user(None)
    for body, status in (
        ({"assignee": user.username, "role": "Boss"}, 400),
        ({"assignee": user.username, "role": "AcrPull", "scope": "backend/*"}, 400),
        ({"assignee": user.username, "role": "AcrPull", "scope": "repositories/*"}, 400),
        ({"assignee": user.username, "role": "AcrPull", "scope": "repositories/Bad Name"}, 400),
        ({"assignee": user.username, "role": "AcrPull", "assigneeKind": "group"}, 400),
        ({"assignee": "nobody-by-this-name", "role": "AcrPull"}, 404),
        ({"assignee": user.username, "role": "AcrPull", "assigneeKind": "workloadIdentity"}, 404),
        ({"assignee": "cargohold", "role": "AcrPull"}, 404),  # the admin user is not an assignee
        ({"role": "AcrPull"}, 400),
    ):
        owner.error("POST", "/role-assignments", body, status=status)


def test_last_owner_assignment_is_kept(owner: Api, as_user: Callable[..., Api]) -> None:
    owners = owner.get("/role-assignments", role="Owner", scope="")
    assert len(owners) == 1 and owners[0]["assignee"] == "owner"
    owner.error("DELETE", f"/role-assignments/{owners[0]['id']}", status=409)
    owner.error("DELETE", "/users/owner", status=409)

    # With a second Owner, the owner's assignment may go; the second owner then cannot be deleted.
    second = as_user("Owner")
    second_assignment = owner.get("/role-assignments", assignee=second.username)[0]
    second.delete(f"/role-assignments/{owners[0]['id']}")
    owner.error("GET", "/registry", status=403)
    second.error("DELETE", f"/users/{second.username}", status=409)
    second.error("DELETE", f"/role-assignments/{second_assignment['id']}", status=409)
    restored = second.post("/role-assignments", {"assignee": "owner", "role": "Owner"}, expect=201)
    assert restored["assignee"] == "owner"
    owner.get("/registry")
    owner.delete(f"/users/{second.username}")
