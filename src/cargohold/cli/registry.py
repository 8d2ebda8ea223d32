"""`cargohold show` and `cargohold update` (as `az acr show` / `az acr update`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cargohold.cli import client, output
from cargohold.cli.client import STATE
from cargohold.cli.common import parse_bool

REGISTRY_COLUMNS: list[output.Column] = [
    ("Name", "name"), ("Login Server", "loginServer"), ("SKU", "sku"),
    ("Admin Enabled", "adminUserEnabled"), ("Anonymous Pull", "anonymousPullEnabled"), ("Created", "createdAt"),
]

RegistryName = Annotated[str | None, typer.Option("--name", "-n", help="registry name (checked like --registry)")]


def registry_client(name: str | None) -> client.ApiClient:
    """The API client; `-n NAME` is checked against the server like --registry."""
    if name and not STATE.registry:
        STATE.registry = name
    return client.api()


def show(name: RegistryName = None) -> None:
    """Show the registry: name, login server, SKU, admin user and anonymous pull settings."""
    output.emit(registry_client(name).get("/api/registry"), REGISTRY_COLUMNS)


def update(
    admin_enabled: Annotated[str | None, typer.Option(
        "--admin-enabled", metavar="true|false", help="enable or disable the admin user")] = None,
    anonymous_pull_enabled: Annotated[str | None, typer.Option(
        "--anonymous-pull-enabled", metavar="true|false", help="allow pulls without credentials")] = None,
    name: RegistryName = None,
) -> None:
    """Change registry settings: the admin user, anonymous pull."""
    body: dict[str, Any] = {}
    if admin_enabled is not None:
        body["adminUserEnabled"] = parse_bool("--admin-enabled", admin_enabled)
    if anonymous_pull_enabled is not None:
        body["anonymousPullEnabled"] = parse_bool("--anonymous-pull-enabled", anonymous_pull_enabled)
    if not body:
        client.usage_error("nothing to update: give --admin-enabled and/or --anonymous-pull-enabled")
    result = registry_client(name).patch("/api/registry", body)
    output.emit(result, REGISTRY_COLUMNS)
    admin = result.get("adminCredentials") if isinstance(result, dict) else None
    if admin and STATE.output == "table" and STATE.query is None:
        # Enabling the admin user for the first time shows its passwords, this once: do not hide them.
        from cargohold.cli.credential import CREDENTIAL_COLUMNS

        output.print_table(admin, CREDENTIAL_COLUMNS)
