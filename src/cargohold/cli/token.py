"""`cargohold token create|list|show|update|delete|credential generate|credential delete` (`az acr token`)."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer

from cargohold.cli import client, output
from cargohold.cli.client import CliError, confirm, segment, usage_error
from cargohold.cli.common import Yes, expiry, given, repository_actions, repository_groups
from cargohold.cli.scope_map import REPO_HELP

app = typer.Typer(no_args_is_help=True, help="Repository tokens: passwords limited by a scope map.")
credential_app = typer.Typer(no_args_is_help=True, help="A token's passwords (password1, password2).")
app.add_typer(credential_app, name="credential")

Name = Annotated[str, typer.Option("--name", "-n", help="token name")]
Days = Annotated[int | None, typer.Option("--expiration-in-days", help="passwords expire after this many days")]
At = Annotated[str | None, typer.Option("--expiration", help="passwords expire at this ISO 8601 instant")]
Status = Annotated[str | None, typer.Option("--status", metavar="enabled|disabled", help="enable or disable")]


def _password_field(which: str, field: str) -> output.Column:
    def get(row: dict[str, Any]) -> Any:
        creds = row.get("credentials") if "credentials" in row else row
        for p in (creds or {}).get("passwords") or []:
            if isinstance(p, dict) and p.get("name") == which:
                return p.get(field)
        return None
    label = which.capitalize() + (" Expiry" if field == "expiry" else "")
    return (label, get)


TOKEN_COLUMNS: list[output.Column] = [
    ("Name", "name"), ("Scope Map", "scopeMapName"), ("Status", "status"), ("Created", "createdAt"),
    _password_field("password1", "expiry"), _password_field("password2", "expiry"),
]
WITH_SECRETS: list[output.Column] = [
    ("Name", "name"), ("Scope Map", "scopeMapName"), ("Status", "status"),
    _password_field("password1", "value"), _password_field("password2", "value"),
    _password_field("password1", "expiry"), _password_field("password2", "expiry"),
]
CREDENTIAL_COLUMNS: list[output.Column] = [
    ("Username", "username"), _password_field("password1", "value"), _password_field("password2", "value"),
    _password_field("password1", "expiry"), _password_field("password2", "expiry"),
]


def _status(value: str | None) -> str | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered not in ("enabled", "disabled"):
        usage_error(f"--status takes enabled or disabled, not {value!r}")
    return lowered


@app.command("create")
def create(
    name: Name,
    scope_map: Annotated[str | None, typer.Option("--scope-map", help="an existing scope map")] = None,
    repository: Annotated[list[str] | None, typer.Option(
        "--repository", metavar="REPO ACTION...",
        help=REPO_HELP + "; creates the scope map <name>-scope-map")] = None,
    status: Status = None,
    no_passwords: Annotated[bool, typer.Option("--no-passwords", help="create without passwords")] = False,
    expiration_in_days: Days = None,
    expiration: At = None,
) -> None:
    """Create a token from a scope map (`--scope-map`) or from repository actions (`--repository`).

    The generated passwords are shown once, in this output.
    """
    groups = repository_groups("--repository", repository)
    if scope_map and groups:
        usage_error("--scope-map and --repository are mutually exclusive")
    if not scope_map and not groups:
        usage_error("give --scope-map NAME or --repository REPO ACTION...")
    body: dict[str, Any] = {"name": name}
    if (st := _status(status)) is not None:
        body["status"] = st
    if no_passwords:
        if expiration_in_days is not None or expiration is not None:
            usage_error("--no-passwords leaves nothing to expire")
        body["noPasswords"] = True
    if (exp := expiry(expiration_in_days, expiration)) is not None:
        body["expiry"] = exp
    api = client.api()
    created_map = None
    if scope_map:
        body["scopeMapName"] = scope_map
    elif all(sorted(names) == sorted(groups[0][1]) for _, names in groups):
        # Every repository gets the same actions: the server creates <name>-scope-map with the token.
        body["repositories"] = [repo for repo, _ in groups]
        body["actions"] = groups[0][1]
    else:
        # Different actions per repository (az allows it): create <name>-scope-map first, as az does.
        created_map = f"{name}-scope-map"
        api.post("/api/scope-maps", {"name": created_map, "actions": repository_actions("--repository", repository),
                                     "description": f"Token {name}'s scope map"})
        body["scopeMapName"] = created_map
    try:
        result = api.post("/api/tokens", body)
    except CliError:
        if created_map:  # do not leave the scope map behind for a token that does not exist
            with contextlib.suppress(CliError):
                api.delete(f"/api/scope-maps/{segment(created_map)}")
        raise
    output.emit(result, WITH_SECRETS)


@app.command("list")
def list_() -> None:
    """List tokens (passwords are never shown here)."""
    output.emit(client.api().get("/api/tokens"), TOKEN_COLUMNS)


@app.command("show")
def show(name: Name) -> None:
    """Show one token."""
    output.emit(client.api().get(f"/api/tokens/{segment(name)}"), TOKEN_COLUMNS)


@app.command("update")
def update(
    name: Name,
    scope_map: Annotated[str | None, typer.Option("--scope-map", help="another scope map")] = None,
    status: Status = None,
) -> None:
    """Change a token's scope map or status."""
    body = given({"scopeMapName": scope_map, "status": _status(status)})
    if not body:
        usage_error("nothing to update: give --scope-map and/or --status")
    output.emit(client.api().patch(f"/api/tokens/{segment(name)}", body), TOKEN_COLUMNS)


@app.command("delete")
def delete(name: Name, yes: Yes = False) -> None:
    """Delete a token (its passwords stop working at once)."""
    confirm(f"Delete token {name!r}?", yes)
    client.api().delete(f"/api/tokens/{segment(name)}")


def _which(password1: bool, password2: bool, default_both: bool) -> list[str]:
    chosen = [n for n, on in (("password1", password1), ("password2", password2)) if on]
    if not chosen:
        if not default_both:
            usage_error("give --password1 and/or --password2")
        chosen = ["password1", "password2"]
    return chosen


Password1 = Annotated[bool, typer.Option("--password1", help="password1")]
Password2 = Annotated[bool, typer.Option("--password2", help="password2")]


@credential_app.command("generate")
def credential_generate(
    name: Name,
    password1: Password1 = False,
    password2: Password2 = False,
    expiration_in_days: Days = None,
    expiration: At = None,
) -> None:
    """Generate (or regenerate) password1 and/or password2 (both when neither is named)."""
    exp = expiry(expiration_in_days, expiration)
    api = client.api()
    passwords: list[dict[str, Any]] = []
    for which in _which(password1, password2, default_both=True):
        token = api.post(f"/api/tokens/{segment(name)}/credentials", {"name": which} | given({"expiry": exp}))
        for p in (token.get("credentials") or {}).get("passwords") or [] if isinstance(token, dict) else []:
            if isinstance(p, dict) and p.get("name") == which:
                passwords.append(p)
    output.emit({"username": name, "passwords": passwords}, CREDENTIAL_COLUMNS)


@credential_app.command("delete")
def credential_delete(name: Name, password1: Password1 = False, password2: Password2 = False,
                      yes: Yes = False) -> None:
    """Delete password1 and/or password2 of a token."""
    chosen = _which(password1, password2, default_both=False)
    confirm(f"Delete {' and '.join(chosen)} of token {name!r}?", yes)
    api = client.api()
    for which in chosen:
        api.delete(f"/api/tokens/{segment(name)}/credentials/{which}")
    output.emit(api.get(f"/api/tokens/{segment(name)}"), TOKEN_COLUMNS)
