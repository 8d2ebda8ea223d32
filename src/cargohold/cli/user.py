"""`cargohold user create|list|delete`: the registry's users (password credentials)."""

from __future__ import annotations

from typing import Annotated

import typer

from cargohold.cli import client, output
from cargohold.cli.client import confirm, segment
from cargohold.cli.common import Yes, given, read_password_stdin

app = typer.Typer(no_args_is_help=True, help="Users: a name and a password; give them roles with `role assignment`.")

Name = Annotated[str, typer.Option("--name", "-n", help="user name")]
USER_COLUMNS: list[output.Column] = [("Name", "name"), ("Kind", "kind"), ("Enabled", "enabled"),
                                     ("Created", "createdAt")]


@app.command("create")
def create(
    name: Name,
    password: Annotated[str | None, typer.Option(
        "--password", help="the new user's password (generated and shown once when omitted)")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
) -> None:
    """Create a user."""
    if password_stdin:
        password = read_password_stdin(password)
    body = {"name": name} | given({"password": password})
    output.emit(client.api().post("/api/users", body), [*USER_COLUMNS, ("Password", "password")])


@app.command("list")
def list_() -> None:
    """List users."""
    output.emit(client.api().get("/api/users"), USER_COLUMNS)


@app.command("show")
def show(name: Name) -> None:
    """Show one user."""
    output.emit(client.api().get(f"/api/users/{segment(name)}"), USER_COLUMNS)


@app.command("delete")
def delete(name: Name, yes: Yes = False) -> None:
    """Delete a user and their role assignments."""
    confirm(f"Delete user {name!r}?", yes)
    client.api().delete(f"/api/users/{segment(name)}")
