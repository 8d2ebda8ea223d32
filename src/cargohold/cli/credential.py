"""`cargohold credential show|renew`: the registry admin user's two passwords (`az acr credential`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cargohold.cli import output
from cargohold.cli.client import registry_client, usage_error
from cargohold.cli.common import RegistryName

app = typer.Typer(no_args_is_help=True,
                  help="The admin user's credentials (enable it with `update --admin-enabled true`).")


def _password(name: str) -> output.Column:
    def get(row: dict[str, Any]) -> Any:
        for p in row.get("passwords") or []:
            if isinstance(p, dict) and p.get("name") == name:
                # The value appears only in the response that generated it.
                return p.get("value") or f"(set {output.short_time(str(p.get('createdAt', '')))})"
        return None
    return (name.capitalize(), get)


CREDENTIAL_COLUMNS: list[output.Column] = [("Username", "username"), _password("password"), _password("password2")]


@app.command("show")
def show(name: RegistryName = None) -> None:
    """Show the admin user's username and passwords."""
    output.emit(registry_client(name).get("/api/registry/credentials"), CREDENTIAL_COLUMNS)


@app.command("renew")
def renew(
    password_name: Annotated[str, typer.Option(
        "--password-name", metavar="password|password2", help="which password to regenerate")],
    name: RegistryName = None,
) -> None:
    """Regenerate one of the admin user's passwords."""
    if password_name not in ("password", "password2"):
        usage_error(f"--password-name takes password or password2, not {password_name!r}")
    result = registry_client(name).post("/api/registry/credentials/regenerate", {"name": password_name})
    output.emit(result, CREDENTIAL_COLUMNS)
