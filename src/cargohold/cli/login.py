"""`cargohold login` and `cargohold logout`.

`login` checks the credentials with the registry's token endpoint, then files them where the
container tools look: docker's config.json (docker, oras) and the containers auth file (podman,
skopeo, buildah), both as `auths[<host:port>].auth` = base64(user:password). The CLI keeps the URL
and username in its own config, with the refresh token the registry returned in place of the
password when the control plane accepts one (username 00000000-0000-0000-0000-000000000000).

`login --expose-token` writes nothing: it prints an access token for the registry and its login
server, as `az acr login --expose-token` does, for use as a Bearer token.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from cargohold.cli import client, config, output
from cargohold.cli.client import STATE, CliError, Credentials
from cargohold.cli.common import read_password_stdin

CLIENT_ID = "cargohold-cli"


def _credentials(username: str | None, password: str | None, password_stdin: bool,
                 allow_stored: bool, url: str) -> Credentials:
    username = username or STATE.username
    if password_stdin:
        if not username and not password:
            client.usage_error("--password-stdin needs --username")
        password = read_password_stdin(password)
    else:
        password = password or STATE.password
    if username and password:
        return Credentials(username, password, "options")
    if allow_stored and not username and not password:
        stored = client.resolve_credentials(url)
        if stored is not None:
            return stored
    if sys.stdin.isatty():
        if not username:
            username = typer.prompt("Username", err=True)
        if not password:
            password = typer.prompt("Password", hide_input=True, err=True)
        if username and password:
            return Credentials(username, password, "options")
    client.usage_error("give --username and --password (or --password-stdin)")


def request_token(url: str, creds: Credentials, scopes: list[str], offline: bool) -> dict[str, Any]:
    """An access token (and a refresh token when `offline`) from the registry's /oauth2/token."""
    httpx = client.load_httpx()

    service = client.login_host(url)
    try:
        with httpx.Client(base_url=url, timeout=client.TIMEOUT_SECONDS, verify=client.tls_verify(url),
                          headers={"User-Agent": client.USER_AGENT}) as http:
            for attempt in range(client.MAX_THROTTLE_RETRIES + 1):
                if creds.is_refresh_token:
                    form = {"grant_type": "refresh_token", "refresh_token": creds.password, "service": service,
                            "client_id": CLIENT_ID, "scope": " ".join(scopes)}
                    response = http.post("/oauth2/token", data=form)
                else:
                    params: list[tuple[str, str | int | float | bool | None]] = [
                        ("service", service), ("client_id", CLIENT_ID)]
                    if offline:
                        params.append(("offline_token", "true"))
                    params.extend(("scope", s) for s in scopes)
                    response = http.get("/oauth2/token", params=params,
                                        auth=httpx.BasicAuth(creds.username, creds.password))
                wait = client.retry_after(response)
                if wait is None or attempt == client.MAX_THROTTLE_RETRIES:
                    break
                time.sleep(wait)
    except httpx.HTTPError as e:
        raise client.connection_error(url, e) from None
    if response.status_code != 200:
        prefix = "login failed: " if response.status_code == 401 else ""
        raise CliError(prefix + client.decode_api_error(response))
    try:
        body = response.json()
    except ValueError:
        raise CliError(f"{url}/oauth2/token did not answer with JSON: is this a registry?") from None
    token = body.get("access_token") or body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise CliError(f"{url}/oauth2/token answered without a token")
    return dict(body)


def _probe_registry(url: str, username: str, password: str) -> tuple[int, dict[str, Any] | None]:
    """GET /api/registry with these credentials: (status, body when 200)."""
    httpx = client.load_httpx()

    try:
        response = httpx.get(url + "/api/registry", auth=httpx.BasicAuth(username, password),
                             timeout=client.TIMEOUT_SECONDS, headers={"User-Agent": client.USER_AGENT},
                             verify=client.tls_verify(url))
    except httpx.HTTPError as e:
        raise client.connection_error(url, e) from None
    body = None
    if response.status_code == 200:
        try:
            data = response.json()
            body = data if isinstance(data, dict) else None
        except ValueError:
            body = None
    return response.status_code, body


def _check_name(url: str, expected: str, info: dict[str, Any] | None, status: int) -> None:
    if info is None:
        print(f"warning: cannot check the registry name at {url} (HTTP {status} from /api/registry)",
              file=sys.stderr)
        return
    served = str(info.get("name", ""))
    if served.lower() != expected.lower():
        raise CliError(f"registry {expected!r} is not served at {url} (it serves {served!r})")


def _warn_credential_helpers(host: str) -> None:
    try:
        docker = config.read_json(config.docker_config_path())
    except config.ConfigFileError:
        return
    helper = (docker.get("credHelpers") or {}).get(host) if isinstance(docker.get("credHelpers"), dict) else None
    helper = helper or docker.get("credsStore")
    if helper:
        print(f"warning: {config.docker_config_path()} names the credential helper {helper!r}; docker asks it "
              f"rather than the entry written for {host}", file=sys.stderr)


def login(
    username: Annotated[str | None, typer.Option("--username", "-u", help="username, client id or token name")] = None,
    password: Annotated[str | None, typer.Option("--password", "-p", help="password or secret")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    name: Annotated[str | None, typer.Option("--name", "-n", help="registry name (checked like --registry)")] = None,
    expose_token: Annotated[bool, typer.Option(
        "--expose-token", "-t",
        help="print an access token and the login server instead of storing credentials")] = False,
) -> None:
    """Log in to the registry and store the credentials for docker, podman, skopeo, buildah, oras and this CLI."""
    url = STATE.resolved_url()
    host = client.login_host(url)
    creds = _credentials(username, password, password_stdin, allow_stored=expose_token, url=url)
    expected = name or STATE.registry

    if expose_token:
        body = request_token(url, creds, ["registry:catalog:*"], offline=False)
        if expected:
            status, info = _probe_registry(url, creds.username, creds.password)
            _check_name(url, expected, info, status)
        output.emit({"accessToken": body.get("access_token") or body.get("token"), "loginServer": host})
        return

    body = request_token(url, creds, [], offline=True)
    refresh = body.get("refresh_token") if isinstance(body.get("refresh_token"), str) else None

    # Does the control plane take the refresh token (ACR's null-GUID username)? Keep it instead of the
    # password if so. The same call checks the registry name.
    entry: dict[str, Any] = {"username": creds.username}
    status, info = (0, None)
    if refresh:
        status, info = _probe_registry(url, config.NULL_GUID, refresh)
        if status in (200, 403):
            entry["refreshToken"] = refresh
    if "refreshToken" not in entry:
        entry["password"] = creds.password
        if expected:
            status, info = _probe_registry(url, creds.username, creds.password)
    if expected:
        _check_name(url, expected, info, status)

    try:
        config.store_auth(config.docker_config_path(), host, creds.username, creds.password)
        config.store_auth(config.containers_auth_path(), host, creds.username, creds.password)
        config.save_login(url, entry)
    except config.ConfigFileError as e:
        raise CliError(str(e)) from None
    _warn_credential_helpers(host)
    print("Login Succeeded")


def logout() -> None:
    """Remove the credentials `login` stored for the registry (docker, containers and CLI files)."""
    url = STATE.resolved_url()
    host = client.login_host(url)
    removed = []
    try:
        for path in (config.docker_config_path(), config.containers_auth_path()):
            if config.remove_auth(path, host):
                removed.append(str(path))
        if config.forget_login(url):
            removed.append(str(config.cli_config_path()))
    except config.ConfigFileError as e:
        raise CliError(str(e)) from None
    if removed:
        print(f"Removed login credentials for {host}")
    else:
        print(f"Not logged in to {host}")
