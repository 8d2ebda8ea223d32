"""`cargohold login` / `logout`: the credential files docker, podman, skopeo and oras read, and the CLI's own."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import httpx
from clitools import Cli

from support import RegistryServer


def auth_entry(path: Path, host: str) -> str:
    return base64.b64decode(json.loads(path.read_text())["auths"][host]["auth"]).decode()


def assert_private(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)


def test_login_writes_docker_config_containers_auth_and_cli_config(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    host = cli_registry.host
    # Entries for other registries, and other keys, survive the login.
    anon_cli.docker_config.parent.mkdir(parents=True)
    anon_cli.docker_config.write_text(json.dumps({
        "auths": {"other.example:5000": {"auth": base64.b64encode(b"a:b").decode()}},
        "HttpHeaders": {"User-Agent": "kept"},
    }))
    anon_cli.containers_auth.parent.mkdir(parents=True)
    anon_cli.containers_auth.write_text(json.dumps({"auths": {"quay.example": {"auth": "eDp5"}}}))

    out = anon_cli.ok("login", "--username", cli_registry.username, "--password", cli_registry.password)
    assert out == "Login Succeeded\n"

    for path in (anon_cli.docker_config, anon_cli.containers_auth):
        assert auth_entry(path, host) == f"{cli_registry.username}:{cli_registry.password}"
        assert_private(path)
    docker = json.loads(anon_cli.docker_config.read_text())
    assert docker["HttpHeaders"] == {"User-Agent": "kept"}
    assert "other.example:5000" in docker["auths"]
    assert "quay.example" in json.loads(anon_cli.containers_auth.read_text())["auths"]

    # The CLI remembers the URL and username, and a refresh token rather than the password.
    assert_private(anon_cli.cli_config)
    saved = json.loads(anon_cli.cli_config.read_text())
    assert saved["currentUrl"] == cli_registry.url
    entry = saved["servers"][cli_registry.url]
    assert entry["username"] == cli_registry.username
    assert entry.get("refreshToken"), entry
    assert "password" not in entry
    assert cli_registry.password not in anon_cli.cli_config.read_text()

    # ...and uses it: no flags, no CARGOHOLD_URL.
    info = anon_cli.json("show", env={"CARGOHOLD_URL": None})
    assert info["loginServer"] and info["name"]


def test_registry_auth_file_wins_over_xdg_runtime_dir(anon_cli: Cli, cli_registry: RegistryServer,
                                                      tmp_path: Path) -> None:
    explicit = tmp_path / "elsewhere" / "auth.json"
    anon_cli.ok("login", "-u", cli_registry.username, "--password-stdin", input=cli_registry.password + "\n",
                env={"REGISTRY_AUTH_FILE": str(explicit)})
    assert auth_entry(explicit, cli_registry.host) == f"{cli_registry.username}:{cli_registry.password}"
    assert_private(explicit)
    assert not anon_cli.containers_auth.exists()


def test_without_xdg_runtime_dir_the_auth_file_is_under_config(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    anon_cli.ok("login", "-u", cli_registry.username, "-p", cli_registry.password, env={"XDG_RUNTIME_DIR": None})
    path = anon_cli.home / ".config" / "containers" / "auth.json"
    assert auth_entry(path, cli_registry.host) == f"{cli_registry.username}:{cli_registry.password}"


def test_bad_credentials_are_one_line_and_write_nothing(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    message = anon_cli.fails("login", "-u", cli_registry.username, "-p", "not-the-password")
    assert message.startswith("login failed:"), message
    assert not anon_cli.docker_config.exists()
    assert not anon_cli.containers_auth.exists()
    assert not anon_cli.cli_config.exists()
    # Without credentials and without a terminal there is nobody to ask: a usage error.
    assert "--username" in anon_cli.fails("login", code=2)


def test_logout_removes_only_this_registry(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    anon_cli.docker_config.parent.mkdir(parents=True)
    anon_cli.docker_config.write_text(json.dumps({"auths": {"other.example": {"auth": "eDp5"}}}))
    anon_cli.ok("login", "-u", cli_registry.username, "-p", cli_registry.password)
    assert anon_cli.ok("logout") == f"Removed login credentials for {cli_registry.host}\n"
    assert json.loads(anon_cli.docker_config.read_text())["auths"] == {"other.example": {"auth": "eDp5"}}
    assert json.loads(anon_cli.containers_auth.read_text())["auths"] == {}
    assert cli_registry.url not in json.loads(anon_cli.cli_config.read_text()).get("servers", {})
    assert anon_cli.ok("logout") == f"Not logged in to {cli_registry.host}\n"
    # Logged out: the control plane is out of reach again, and the error says what to do.
    assert "cargohold login" in anon_cli.fails("show")


def test_expose_token_is_a_bearer_token_and_writes_nothing(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    out = anon_cli.json("login", "--expose-token", "-u", cli_registry.username, "-p", cli_registry.password)
    assert set(out) == {"accessToken", "loginServer"}
    assert out["loginServer"] == cli_registry.host
    assert not anon_cli.docker_config.exists()
    assert not anon_cli.containers_auth.exists()
    assert not anon_cli.cli_config.exists()

    base = httpx.get(cli_registry.url + "/v2/", headers={"Authorization": f"Bearer {out['accessToken']}"})
    assert base.status_code == 200, base.text
    assert httpx.get(cli_registry.url + "/v2/").status_code == 401
    catalog = httpx.get(cli_registry.url + "/v2/_catalog",
                        headers={"Authorization": f"Bearer {out['accessToken']}"})
    assert catalog.status_code == 200, catalog.text

    # az's idiom: the bare token through --query and tsv.
    token = anon_cli.ok("login", "--expose-token", "--query", "accessToken", "-o", "tsv",
                        env={"CARGOHOLD_USERNAME": cli_registry.username, "CARGOHOLD_PASSWORD": cli_registry.password})
    assert token.count("\n") == 1 and token.count(".") == 2
    assert httpx.get(cli_registry.url + "/v2/", headers={"Authorization": f"Bearer {token.strip()}"}).status_code == 200


def test_expose_token_after_login_uses_the_stored_refresh_token(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    anon_cli.ok("login", "-u", cli_registry.username, "-p", cli_registry.password)
    out = anon_cli.json("login", "--expose-token")
    base = httpx.get(cli_registry.url + "/v2/", headers={"Authorization": f"Bearer {out['accessToken']}"})
    assert base.status_code == 200


def test_login_checks_the_registry_name(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    name = httpx.get(cli_registry.url + "/api/registry", auth=cli_registry.basic_auth).json()["name"]
    creds = ("-u", cli_registry.username, "-p", cli_registry.password)
    anon_cli.ok("login", "-n", name, *creds)
    anon_cli.ok("logout")
    message = anon_cli.fails("login", "--registry", "notthisone", *creds)
    assert "notthisone" in message and name in message
    assert json.loads(anon_cli.docker_config.read_text())["auths"] == {}


def test_unreachable_url(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    message = anon_cli.fails("login", "--url", "http://127.0.0.1:1", "-u", "owner", "-p", "x")
    assert "cannot connect to http://127.0.0.1:1" in message
    assert "invalid URL" in anon_cli.fails("login", "--url", "ftp://example", "-u", "a", "-p", "b", code=2)


def test_login_with_a_refresh_token(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    """ACR's way for workloads: /oauth2/exchange gives a refresh token, used with the null-GUID username."""
    exchanged = httpx.post(cli_registry.url + "/oauth2/exchange",
                           data={"username": cli_registry.username, "password": cli_registry.password})
    assert exchanged.status_code == 200, exchanged.text
    refresh = exchanged.json()["refresh_token"]
    null_guid = "00000000-0000-0000-0000-000000000000"
    anon_cli.ok("login", "-u", null_guid, "--password-stdin", input=refresh)
    assert auth_entry(anon_cli.docker_config, cli_registry.host) == f"{null_guid}:{refresh}"
    assert anon_cli.json("show")["loginServer"] == cli_registry.host
    token = anon_cli.json("login", "--expose-token", "--query", "accessToken")
    assert httpx.get(cli_registry.url + "/v2/", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_credentials_from_another_tools_login_are_used(anon_cli: Cli, cli_registry: RegistryServer) -> None:
    """Logged in with podman or docker but never with this CLI: the CLI uses those credentials."""
    anon_cli.containers_auth.parent.mkdir(parents=True)
    secret = base64.b64encode(f"{cli_registry.username}:{cli_registry.password}".encode()).decode()
    anon_cli.containers_auth.write_text(json.dumps({"auths": {cli_registry.host: {"auth": secret}}}))
    assert anon_cli.json("show")["loginServer"] == cli_registry.host
    anon_cli.containers_auth.unlink()
    anon_cli.docker_config.parent.mkdir(parents=True)
    anon_cli.docker_config.write_text(json.dumps({"auths": {cli_registry.host: {"auth": secret}}}))
    assert anon_cli.json("show")["loginServer"] == cli_registry.host
