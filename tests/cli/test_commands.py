"""Every control-plane command's happy path against a real registry, with -o json and --query."""

from __future__ import annotations

import httpx
import pytest
from clitools import Cli, unique

from support import RegistryServer


def token_for(server: RegistryServer, username: str, password: str, scope: str) -> httpx.Response:
    """The Docker token endpoint with Basic credentials, as docker would call it after a login."""
    return httpx.get(server.url + "/oauth2/token", params={"service": server.host, "scope": scope},
                     auth=(username, password))


def granted(response: httpx.Response) -> list[str]:
    import base64
    import json

    assert response.status_code == 200, response.text
    payload = response.json()["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return [a for entry in claims["access"] for a in entry["actions"]]


# --- registry --------------------------------------------------------------------------------------

def test_show_and_update_anonymous_pull(cli: Cli, cli_registry: RegistryServer) -> None:
    info = cli.json("show")
    assert info["loginServer"] == cli_registry.host
    assert info["anonymousPullEnabled"] is False
    assert cli.ok("show", "--query", "name", "-o", "tsv").strip() == info["name"]
    # -n/--name names one of the server's registries (the operator's view of it); an unknown one is an error.
    assert cli.json("show", "-n", info["name"])["name"] == info["name"]
    assert "registry 'someotherregistry' not found" in cli.fails("show", "-n", "someotherregistry")

    try:
        out = cli.json("update", "--anonymous-pull-enabled", "true", "--query", "anonymousPullEnabled")
        assert out is True
        assert httpx.get(cli_registry.url + "/oauth2/token", params={"service": cli_registry.host}).status_code == 200
    finally:
        assert cli.json("update", "--anonymous-pull-enabled", "false")["anonymousPullEnabled"] is False
    assert httpx.get(cli_registry.url + "/oauth2/token", params={"service": cli_registry.host}).status_code == 401


def test_admin_user_credentials_show_renew_and_disable(cli: Cli, cli_registry: RegistryServer) -> None:
    name = cli.json("show", "--query", "name")
    try:
        # The first enabling shows both passwords, this once; the table does not drop them.
        table = cli.ok("update", "--admin-enabled", "true", "-o", "table")
        assert "Admin Enabled" in table and "Password2" in table and name in table
        assert cli.json("show", "--query", "adminUserEnabled") is True
        creds = cli.json("credential", "show")
        assert creds["username"] == name
        assert [p["name"] for p in creds["passwords"]] == ["password", "password2"]

        renewed = cli.json("credential", "renew", "--password-name", "password2")
        password2 = next(p["value"] for p in renewed["passwords"] if p["name"] == "password2")
        assert token_for(cli_registry, name, password2, "repository:x/y:pull").status_code == 200
        # --query straight to the value, as scripts use it
        again = cli.ok("credential", "renew", "--password-name", "password2",
                       "--query", "passwords[?name=='password2'].value | [0]", "-o", "tsv").strip()
        assert again and again != password2
        assert token_for(cli_registry, name, password2, "repository:x/y:pull").status_code == 401
        assert token_for(cli_registry, name, again, "repository:x/y:pull").status_code == 200

        table = cli.ok("credential", "show", "-o", "table")
        assert "Username" in table and "Password2" in table and name in table
        assert "must be password or password2" in cli.fails("credential", "renew", "--password-name", "password3",
                                                            code=2).replace("takes", "must be").replace(
            ", not 'password3'", "")
    finally:
        assert cli.json("update", "--admin-enabled", "false", "--query", "adminUserEnabled") is False
    assert token_for(cli_registry, name, again, "repository:x/y:pull").status_code == 401
    cli.fails("credential", "show")  # 409: the admin user is disabled


# --- scope maps ------------------------------------------------------------------------------------

def test_scope_map_lifecycle(cli: Cli) -> None:
    name = unique("map-")
    created = cli.json("scope-map", "create", "--name", name, "--description", "backend readers",
                       "--repository", "backend/*", "content/read", "metadata/read",
                       "--repository", "web", "content/write")
    assert created["name"] == name
    assert created["type"] == "UserDefined"
    assert sorted(created["actions"]) == sorted([
        "repositories/backend/*/content/read", "repositories/backend/*/metadata/read",
        "repositories/web/content/write"])

    assert cli.json("scope-map", "show", "-n", name, "--query", "description") == "backend readers"
    names = cli.json("scope-map", "list", "--query", "[].name")
    assert name in names and "_repositories_pull" in names
    system = cli.json("scope-map", "list", "--query", "[?type=='SystemDefined'].name")
    assert set(system) >= {"_repositories_admin", "_repositories_pull", "_repositories_push"}

    updated = cli.json("scope-map", "update", "--name", name, "--add-repository", "docs", "content/read",
                       "--remove-repository", "web", "content/write", "--description", "changed")
    assert "repositories/docs/content/read" in updated["actions"]
    assert "repositories/web/content/write" not in updated["actions"]
    assert updated["description"] == "changed"

    table = cli.ok("scope-map", "list", "-o", "table")
    assert "Name" in table and "Type" in table and name in table
    tsv = [line.split("\t") for line in cli.ok("scope-map", "show", "-n", name, "-o", "tsv").splitlines()]
    assert len(tsv) == 1 and tsv[0][0] == name

    assert "--yes" in cli.fails("scope-map", "delete", "--name", name, code=2)  # no terminal to ask
    assert cli.ok("scope-map", "delete", "--name", name, "--yes") == ""
    assert "not found" in cli.fails("scope-map", "show", "--name", name).lower()


def test_system_scope_maps_cannot_change(cli: Cli) -> None:
    cli.fails("scope-map", "update", "--name", "_repositories_pull", "--description", "mine")
    cli.fails("scope-map", "delete", "--name", "_repositories_pull", "--yes")


# --- tokens ----------------------------------------------------------------------------------------

def test_token_lifecycle(cli: Cli, cli_registry: RegistryServer) -> None:
    name = unique("tok-")
    created = cli.json("token", "create", "--name", name, "--scope-map", "_repositories_pull",
                       "--expiration-in-days", "30")
    assert created["name"] == name and created["scopeMapName"] == "_repositories_pull"
    assert created["status"] == "enabled"
    passwords = {p["name"]: p for p in created["credentials"]["passwords"]}
    assert set(passwords) == {"password1", "password2"}
    assert all(p["value"] and p["expiry"] for p in passwords.values())
    password1 = passwords["password1"]["value"]
    assert granted(token_for(cli_registry, name, password1, "repository:any/repo:pull,push")) == ["pull"]

    # show and list never reveal a password
    shown = cli.json("token", "show", "--name", name)
    assert all("value" not in p for p in shown["credentials"]["passwords"])
    assert name in cli.json("token", "list", "--query", "[].name")
    table = cli.ok("token", "list", "-o", "table")
    assert "Scope Map" in table and name in table
    assert password1 not in table

    # disable: the password stops working; enable again
    assert cli.json("token", "update", "-n", name, "--status", "disabled", "--query", "status") == "disabled"
    assert token_for(cli_registry, name, password1, "repository:any/repo:pull").status_code == 401
    cli.json("token", "update", "-n", name, "--status", "enabled")
    assert token_for(cli_registry, name, password1, "repository:any/repo:pull").status_code == 200

    # point it at another scope map
    assert cli.json("token", "update", "-n", name, "--scope-map", "_repositories_push",
                    "--query", "scopeMapName") == "_repositories_push"
    assert sorted(granted(token_for(cli_registry, name, password1, "repository:any/repo:pull,push"))) == [
        "pull", "push"]

    # regenerate password1 only: the old value stops working, password2 keeps working
    regenerated = cli.json("token", "credential", "generate", "--name", name, "--password1")
    assert regenerated["username"] == name
    assert [p["name"] for p in regenerated["passwords"]] == ["password1"]
    new1 = regenerated["passwords"][0]["value"]
    assert token_for(cli_registry, name, password1, "repository:a/b:pull").status_code == 401
    assert token_for(cli_registry, name, new1, "repository:a/b:pull").status_code == 200
    password2 = passwords["password2"]["value"]
    assert token_for(cli_registry, name, password2, "repository:a/b:pull").status_code == 200

    # delete password2
    after = cli.json("token", "credential", "delete", "--name", name, "--password2", "--yes")
    assert [p["name"] for p in after["credentials"]["passwords"]] == ["password1"]
    assert token_for(cli_registry, name, password2, "repository:a/b:pull").status_code == 401

    assert cli.ok("token", "delete", "--name", name, "--yes") == ""
    assert token_for(cli_registry, name, new1, "repository:a/b:pull").status_code == 401
    assert name in cli.fails("token", "show", "--name", name)


def test_token_from_repository_actions(cli: Cli, cli_registry: RegistryServer) -> None:
    # The same actions for every repository: one request, the server makes <name>-scope-map.
    name = unique("tokr-")
    created = cli.json("token", "create", "--name", name, "--repository", "team/app", "content/read",
                       "content/write", "--repository", "team/lib", "content/read", "content/write")
    assert created["scopeMapName"] == f"{name}-scope-map"
    actions = cli.json("scope-map", "show", "-n", f"{name}-scope-map", "--query", "actions")
    assert sorted(actions) == sorted(f"repositories/{r}/content/{a}" for r in ("team/app", "team/lib")
                                     for a in ("read", "write"))
    password = created["credentials"]["passwords"][0]["value"]
    assert sorted(granted(token_for(cli_registry, name, password, "repository:team/app:pull,push"))) == [
        "pull", "push"]
    assert granted(token_for(cli_registry, name, password, "repository:other:pull")) == []

    # Different actions per repository, as az allows: the CLI builds the scope map itself.
    mixed = unique("tokm-")
    created = cli.json("token", "create", "--name", mixed, "--repository", "team/app", "content/read",
                       "--repository", "team/lib", "content/write", "--no-passwords")
    assert created["scopeMapName"] == f"{mixed}-scope-map"
    assert created["credentials"]["passwords"] == []
    actions = cli.json("scope-map", "show", "-n", f"{mixed}-scope-map", "--query", "actions")
    assert sorted(actions) == ["repositories/team/app/content/read", "repositories/team/lib/content/write"]
    # passwords can come later, both at once by default
    generated = cli.json("token", "credential", "generate", "-n", mixed, "--expiration", "2099-01-01T00:00:00Z")
    assert [p["name"] for p in generated["passwords"]] == ["password1", "password2"]
    assert all(p["expiry"].startswith("2099-01-01") for p in generated["passwords"])

    for token in (name, mixed):
        cli.ok("token", "delete", "-n", token, "-y")
        cli.ok("scope-map", "delete", "-n", f"{token}-scope-map", "-y")


def test_token_create_output_formats(cli: Cli) -> None:
    name = unique("tokf-")
    table = cli.ok("token", "create", "-n", name, "--scope-map", "_repositories_pull", "-o", "table")
    lines = table.splitlines()
    assert "Password1" in lines[0] and "Password2" in lines[0]
    assert name in table
    tsv = cli.ok("token", "show", "-n", name, "-o", "tsv").rstrip("\n").split("\t")
    assert tsv[0] == name and tsv[1] == "_repositories_pull" and tsv[2] == "enabled"
    # as in az: an object is one line, a list one line per item
    assert cli.ok("token", "show", "-n", name, "-o", "tsv", "--query", "{n: name, s: status}") == f"{name}\tenabled\n"
    assert cli.ok("token", "show", "-n", name, "-o", "tsv", "--query", "[name, status]") == f"{name}\nenabled\n"
    cli.ok("token", "delete", "-n", name, "--yes")


# --- role assignments, users, service principals ---------------------------------------------------

def test_users_and_role_assignments(cli: Cli, cli_registry: RegistryServer) -> None:
    user = unique("user-")
    created = cli.json("user", "create", "--name", user)
    password = created["password"]
    assert created["name"] == user and len(password) >= 12
    assert user in cli.json("user", "list", "--query", "[].name")
    shown = cli.json("user", "show", "--name", user)
    assert shown["name"] == user and shown["enabled"] is True and "password" not in shown
    # no role yet: a token with nothing in it
    assert granted(token_for(cli_registry, user, password, "repository:backend/api:pull")) == []

    assignment = cli.json("role", "assignment", "create", "--assignee", user, "--role", "AcrPull",
                          "--scope", "backend/*")
    assert assignment["assignee"] == user and assignment["assigneeKind"] == "user"
    assert assignment["role"] == "AcrPull" and assignment["scope"] == "repositories/backend/*"
    assert "pull" in granted(token_for(cli_registry, user, password, "repository:backend/api:pull"))
    assert granted(token_for(cli_registry, user, password, "repository:frontend/web:pull")) == []

    listed = cli.json("role", "assignment", "list", "--assignee", user)
    assert [a["id"] for a in listed] == [assignment["id"]]
    assert cli.json("role", "assignment", "list", "--assignee", user, "--assignee-kind", "servicePrincipal") == []
    assert cli.json("role", "assignment", "list", "--scope", "backend/*", "--query",
                    f"[?assignee=='{user}'].id") == [assignment["id"]]
    assert cli.json("role", "assignment", "list", "--role", "AcrPull", "--query",
                    f"[?assignee=='{user}'].scope") == ["repositories/backend/*"]
    table = cli.ok("role", "assignment", "list", "--assignee", user, "-o", "table")
    assert "Assignee" in table and "AcrPull" in table and "repositories/backend/*" in table

    # A user who is Reader on the registry can use the control plane's read side (and only that).
    reader = cli.json("role", "assignment", "create", "--assignee", user, "--role", "Reader", "--scope", "/")
    assert reader["scope"] == ""
    as_user = {"CARGOHOLD_USERNAME": user, "CARGOHOLD_PASSWORD": password}
    assert cli.json("show", env=as_user)["name"]
    assert "Contributor" in cli.fails("token", "create", "-n", unique("nope-"), "--scope-map",
                                      "_repositories_pull", env=as_user)

    assert cli.ok("role", "assignment", "delete", "--id", assignment["id"], "--yes") == ""
    assert cli.json("role", "assignment", "list", "--assignee", user, "--query", "[].role") == ["Reader"]
    cli.ok("role", "assignment", "delete", "--assignee", user, "--role", "Reader", "--yes")
    assert cli.json("role", "assignment", "list", "--assignee", user) == []
    assert granted(token_for(cli_registry, user, password, "repository:backend/api:pull")) == []

    assert cli.ok("user", "delete", "--name", user, "--yes") == ""
    assert token_for(cli_registry, user, password, "repository:backend/api:pull").status_code == 401
    assert user not in cli.json("user", "list", "--query", "[].name")


def test_user_with_chosen_password(cli: Cli, cli_registry: RegistryServer) -> None:
    user = unique("userp-")
    chosen = "a-chosen-password-" + unique("")
    created = cli.json("user", "create", "--name", user, "--password-stdin", input=chosen + "\n")
    assert created["password"] == chosen
    assert token_for(cli_registry, user, chosen, "repository:a/b:pull").status_code == 200
    # the owner cannot be deleted
    cli.fails("user", "delete", "--name", cli_registry.username, "--yes")
    cli.ok("user", "delete", "--name", user, "--yes")


def test_service_principal_lifecycle(cli: Cli, cli_registry: RegistryServer) -> None:
    name = unique("ci-")
    created = cli.json("sp", "create", "--name", name, "--years", "2")
    client_id, secret = created["clientId"], created["clientSecret"]
    assert created["name"] == name and secret
    assert token_for(cli_registry, client_id, secret, "repository:a/b:pull").status_code == 200

    assert cli.json("sp", "show", "--id", client_id, "--query", "name") == name
    assert cli.json("sp", "show", "--name", name, "--query", "clientId") == client_id
    listed = cli.json("sp", "list", "--query", f"[?clientId=='{client_id}']")
    assert len(listed) == 1 and "clientSecret" not in listed[0]
    assert secret not in cli.ok("sp", "list", "-o", "table")

    reset = cli.json("sp", "credential", "reset", "--id", client_id)
    assert reset["clientSecret"] and reset["clientSecret"] != secret
    assert token_for(cli_registry, client_id, secret, "repository:a/b:pull").status_code == 401
    assert token_for(cli_registry, client_id, reset["clientSecret"], "repository:a/b:pull").status_code == 200

    # a service principal can take a role and log in with the CLI like anyone else
    cli.json("role", "assignment", "create", "--assignee", client_id, "--role", "Reader")
    sp_cli = Cli(cli.root.parent / "sp-cli", cli_registry, owner=False)
    sp_cli.ok("login", "-u", client_id, "-p", reset["clientSecret"])
    assert sp_cli.json("show")["name"]

    cli.ok("sp", "delete", "--id", client_id, "--yes")
    assert token_for(cli_registry, client_id, reset["clientSecret"], "repository:a/b:pull").status_code == 401
    assert client_id in cli.fails("sp", "show", "--id", client_id)


# --- workload identities ---------------------------------------------------------------------------

def test_workload_identity_and_federated_credentials(cli: Cli) -> None:
    name = unique("wl-")
    created = cli.json("identity", "create", "--name", name, "--description", "build pipeline")
    assert created["name"] == name
    assert name in cli.json("identity", "list", "--query", "[].name")
    assert cli.json("identity", "show", "--name", name, "--query", "description") == "build pipeline"

    cred = cli.json("identity", "federated-credential", "create", "--identity-name", name, "--name", "main",
                    "--issuer", "https://issuer.example", "--subject", "repo:org/app:ref:refs/heads/main",
                    "--audiences", "api://cargohold")
    assert cred["name"] == "main" and cred["issuer"] == "https://issuer.example"
    assert cred["audiences"] == ["api://cargohold"]
    cli.json("identity", "federated-credential", "create", "--identity-name", name, "--name", "default-aud",
             "--issuer", "https://issuer.example", "--subject", "sub-2")
    listed = cli.json("identity", "federated-credential", "list", "--identity-name", name)
    assert {c["name"] for c in listed} == {"main", "default-aud"}
    assert next(c for c in listed if c["name"] == "default-aud")["audiences"] == ["api://AzureADTokenExchange"]
    table = cli.ok("identity", "federated-credential", "list", "--identity-name", name, "-o", "table")
    assert "Issuer" in table and "repo:org/app:ref:refs/heads/main" in table

    # a workload identity can hold a role like any identity
    cli.json("role", "assignment", "create", "--assignee", name, "--role", "AcrPull")
    assert cli.json("role", "assignment", "list", "--assignee", name, "--query", "[0].assigneeKind") == (
        "workloadIdentity")

    cli.ok("identity", "federated-credential", "delete", "--identity-name", name, "--name", "main", "--yes")
    assert cli.json("identity", "federated-credential", "list", "--identity-name", name,
                    "--query", "[].name") == ["default-aud"]
    cli.ok("identity", "delete", "--name", name, "--yes")
    assert name not in cli.json("identity", "list", "--query", "[].name")
    assert name in cli.fails("identity", "federated-credential", "list", "--identity-name", name)


# --- login log -------------------------------------------------------------------------------------

def test_logs_login(cli: Cli, cli_registry: RegistryServer) -> None:
    who = unique("nobody-")
    assert token_for(cli_registry, who, "wrong", "repository:a/b:pull").status_code == 401
    events = cli.json("logs", "login", "--identity", who)
    assert len(events) >= 1
    assert events[0]["identity"] == who and events[0]["outcome"] == "failure"
    assert cli.json("logs", "login", "--identity", who, "--outcome", "success") == []
    assert len(cli.json("logs", "login", "--identity", who, "--since", "10m")) >= 1
    assert cli.json("logs", "login", "--identity", who, "--since", "2099-01-01T00:00:00Z") == []
    assert len(cli.json("logs", "login", "--top", "1")) == 1
    assert cli.json("logs", "login", "--outcome", "success", "--top", "5", "--query", "[].outcome") == [
        "success"] * len(cli.json("logs", "login", "--outcome", "success", "--top", "5"))
    table = cli.ok("logs", "login", "--identity", who, "-o", "table")
    assert "Outcome" in table and "failure" in table and who in table


@pytest.mark.parametrize("fmt", ["json", "table", "tsv"])
def test_global_options_anywhere(cli: Cli, fmt: str) -> None:
    """`-o`, `--query` and `--url` work before or after the command, as with az."""
    before = cli.ok("-o", fmt, "--query", "[?type=='SystemDefined'].name", "scope-map", "list")
    after = cli.ok("scope-map", "list", "--query", "[?type=='SystemDefined'].name", f"--output={fmt}")
    assert before == after
    assert "_repositories_pull" in before
