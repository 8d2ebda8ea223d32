"""/api/registry: the switches, the admin user's passwords, anonymous pull through the token flow."""

from __future__ import annotations

from mgmttools import Api, Registry, can_sign_in, token_response

from support import RegistryServer


def test_show_registry(server: RegistryServer, owner: Api) -> None:
    info = owner.get("/registry")
    assert set(info) == {"name", "loginServer", "sku", "adminUserEnabled", "anonymousPullEnabled", "createdAt"}
    assert info["name"] == "cargohold" and info["loginServer"] == server.host and info["sku"] == "Premium"
    assert info["adminUserEnabled"] is False and info["anonymousPullEnabled"] is False
    assert info["createdAt"].endswith("Z")


def test_patch_validates_its_body(owner: Api) -> None:
    owner.error("PATCH", "/registry", {"adminUserEnabled": "yes"}, status=400)
    owner.error("PATCH", "/registry", {"adminEnabled": True}, status=400)  # unknown field
    owner.error("PATCH", "/registry", [True], status=400)
    unchanged = owner.patch("/registry", {})
    assert unchanged["adminUserEnabled"] is False and "adminCredentials" not in unchanged


def test_admin_user_lifecycle(server: RegistryServer, owner: Api) -> None:
    owner.error("GET", "/registry/credentials", status=409)
    owner.error("POST", "/registry/credentials/regenerate", {"name": "password"}, status=409)

    enabled = owner.patch("/registry", {"adminUserEnabled": True})
    assert enabled["adminUserEnabled"] is True
    creds = enabled["adminCredentials"]
    assert creds["username"] == "cargohold"
    values = {p["name"]: p["value"] for p in creds["passwords"]}
    assert set(values) == {"password", "password2"} and values["password"] != values["password2"]

    shown = owner.get("/registry/credentials")
    assert shown["username"] == "cargohold"
    assert [p["name"] for p in shown["passwords"]] == ["password", "password2"]
    assert all("value" not in p for p in shown["passwords"])
    again = owner.patch("/registry", {"adminUserEnabled": True})
    assert "adminCredentials" not in again  # shown once, when created

    # Both passwords sign in, on the data plane and on the control plane (Contributor's rights).
    for value in values.values():
        assert can_sign_in(server.url, "cargohold", value)
        with Api(server.url, "cargohold", value) as admin:
            admin.get("/registry")
            admin.error("POST", "/role-assignments", {"assignee": "owner", "role": "AcrPull"}, status=403)
    admin_registry = Registry(server.url, "cargohold", values["password2"])
    assert admin_registry.push("admin/app", "v1")
    admin_registry.close()

    owner.error("POST", "/registry/credentials/regenerate", {"name": "password3"}, status=400)
    renewed = owner.post("/registry/credentials/regenerate", {"name": "password"})
    new_value = next(p["value"] for p in renewed["passwords"] if p["name"] == "password")
    assert all("value" not in p for p in renewed["passwords"] if p["name"] == "password2")
    assert new_value != values["password"]
    assert not can_sign_in(server.url, "cargohold", values["password"])
    assert can_sign_in(server.url, "cargohold", new_value)
    assert can_sign_in(server.url, "cargohold", values["password2"])

    disabled = owner.patch("/registry", {"adminUserEnabled": False})
    assert disabled["adminUserEnabled"] is False
    assert not can_sign_in(server.url, "cargohold", new_value)
    assert not can_sign_in(server.url, "cargohold", values["password2"])
    with Api(server.url, "cargohold", values["password2"]) as admin:
        admin.error("GET", "/registry", status=401)
    owner.error("GET", "/registry/credentials", status=409)

    # Enabling again restores the same passwords.
    owner.patch("/registry", {"adminUserEnabled": True})
    assert can_sign_in(server.url, "cargohold", values["password2"])
    owner.patch("/registry", {"adminUserEnabled": False})


def test_anonymous_pull_switch(server: RegistryServer, owner: Api) -> None:
    pusher = Registry(server.url, "owner", owner.password)
    assert pusher.push("public/app", "v1")
    pusher.close()
    anonymous = Registry(server.url, None, None)
    try:
        assert token_response(server.url, None, None, "repository:public/app:pull").status_code == 401
        assert not anonymous.pull("public/app", "v1")

        assert owner.patch("/registry", {"anonymousPullEnabled": True})["anonymousPullEnabled"] is True
        answer = token_response(server.url, None, None, "repository:public/app:pull,push")
        assert answer.status_code == 200, answer.text
        assert anonymous.pull("public/app", "v1")
        assert not anonymous.push("public/other", "v1")  # pull only
        catalog = anonymous.http.get("/v2/_catalog", headers={
            "Authorization": "Bearer " + token_response(server.url, None, None, "registry:catalog:*").json()["token"]})
        assert catalog.status_code == 401

        assert owner.patch("/registry", {"anonymousPullEnabled": False})["anonymousPullEnabled"] is False
        assert token_response(server.url, None, None, "repository:public/app:pull").status_code == 401
        assert not anonymous.pull("public/app", "v1")
    finally:
        anonymous.close()
        owner.patch("/registry", {"anonymousPullEnabled": False})
