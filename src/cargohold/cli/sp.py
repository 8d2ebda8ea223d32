"""`cargohold sp create|list|show|credential reset|delete`: service principals (as `az ad sp`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cargohold.cli import client, output
from cargohold.cli.client import CliError, confirm, segment, usage_error
from cargohold.cli.common import Yes, given

app = typer.Typer(no_args_is_help=True, help="Service principals: a client id and a secret that expires.")
credential_app = typer.Typer(no_args_is_help=True, help="A service principal's secret.")
app.add_typer(credential_app, name="credential")

Id = Annotated[str | None, typer.Option("--id", help="client id")]
Name = Annotated[str | None, typer.Option("--name", "-n", help="display name (looked up when --id is not given)")]
Years = Annotated[int | None, typer.Option("--years", help="secret lifetime in years (server default: 1)")]


def _expiry(row: dict[str, Any]) -> Any:
    creds = [c for c in row.get("credentials") or [] if isinstance(c, dict)]
    return ", ".join(str(c.get("expiry")) for c in creds) or None


SP_COLUMNS: list[output.Column] = [("Client Id", "clientId"), ("Name", "name"), ("Enabled", "enabled"),
                                   ("Created", "createdAt"), ("Secret Expiry", _expiry)]
WITH_SECRET: list[output.Column] = [*SP_COLUMNS, ("Client Secret", "clientSecret")]


def _client_id(api: client.ApiClient, client_id: str | None, name: str | None) -> str:
    if client_id and name:
        usage_error("--id and --name are mutually exclusive")
    if client_id:
        return client_id
    if not name:
        usage_error("give --id CLIENT_ID or --name NAME")
    matches = [sp for sp in api.get("/api/service-principals") or []
               if isinstance(sp, dict) and sp.get("name") == name]
    if not matches:
        raise CliError(f"no service principal named {name!r}")
    if len(matches) > 1:
        raise CliError(f"{len(matches)} service principals are named {name!r}: use --id")
    return str(matches[0]["clientId"])


def _years(years: int | None) -> dict[str, Any]:
    if years is not None and years <= 0:
        usage_error("--years must be positive")
    return given({"years": years})


@app.command("create")
def create(name: Annotated[str, typer.Option("--name", "-n", help="display name")], years: Years = None) -> None:
    """Create a service principal; its secret is shown once, in this output."""
    output.emit(client.api().post("/api/service-principals", {"name": name} | _years(years)), WITH_SECRET)


@app.command("list")
def list_() -> None:
    """List service principals (secrets are never shown here)."""
    output.emit(client.api().get("/api/service-principals"), SP_COLUMNS)


@app.command("show")
def show(id_: Id = None, name: Name = None) -> None:
    """Show one service principal."""
    api = client.api()
    output.emit(api.get(f"/api/service-principals/{segment(_client_id(api, id_, name))}"), SP_COLUMNS)


@credential_app.command("reset")
def credential_reset(id_: Id = None, name: Name = None, years: Years = None) -> None:
    """Replace a service principal's secret (the old one stops working); the new one is shown once."""
    api = client.api()
    result = api.post(f"/api/service-principals/{segment(_client_id(api, id_, name))}/credentials/reset",
                      _years(years))
    output.emit(result, WITH_SECRET)


@app.command("delete")
def delete(id_: Id = None, name: Name = None, yes: Yes = False) -> None:
    """Delete a service principal and its role assignments."""
    api = client.api()
    cid = _client_id(api, id_, name)
    confirm(f"Delete service principal {cid}?", yes)
    api.delete(f"/api/service-principals/{segment(cid)}")
