"""`cargohold identity create|list|delete` and `identity federated-credential create|list|delete`.

Workload identities authenticate with OIDC tokens from a trusted issuer (no secret), as
`az identity` and `az identity federated-credential` manage them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cargohold.cli import client, output
from cargohold.cli.client import confirm, segment, usage_error
from cargohold.cli.common import Description, Yes, given, split_values

app = typer.Typer(no_args_is_help=True, help="Workload identities (federated OIDC credentials, no secrets).")
fed_app = typer.Typer(no_args_is_help=True, help="Which OIDC issuer and subject a workload identity trusts.")
app.add_typer(fed_app, name="federated-credential")

Name = Annotated[str, typer.Option("--name", "-n", help="workload identity name")]
IdentityName = Annotated[str, typer.Option("--identity-name", help="workload identity name")]
CredName = Annotated[str, typer.Option("--name", "-n", help="federated credential name")]


def _credential_names(row: dict[str, Any]) -> Any:
    return [c.get("name") for c in row.get("federatedCredentials") or [] if isinstance(c, dict)]


IDENTITY_COLUMNS: list[output.Column] = [("Name", "name"), ("Description", "description"), ("Enabled", "enabled"),
                                         ("Federated Credentials", _credential_names), ("Created", "createdAt")]
FED_COLUMNS: list[output.Column] = [("Name", "name"), ("Issuer", "issuer"), ("Subject", "subject"),
                                    ("Audiences", "audiences")]


@app.command("create")
def create(name: Name,
           description: Description = None) -> None:
    """Create a workload identity (then add a federated credential and a role assignment)."""
    body = {"name": name} | given({"description": description})
    output.emit(client.api().post("/api/workload-identities", body), IDENTITY_COLUMNS)


@app.command("list")
def list_() -> None:
    """List workload identities and their federated credentials."""
    output.emit(client.api().get("/api/workload-identities"), IDENTITY_COLUMNS)


@app.command("show")
def show(name: Name) -> None:
    """Show one workload identity and its federated credentials."""
    output.emit(client.api().get(f"/api/workload-identities/{segment(name)}"), IDENTITY_COLUMNS)


@app.command("delete")
def delete(name: Name, yes: Yes = False) -> None:
    """Delete a workload identity, its federated credentials and role assignments."""
    confirm(f"Delete workload identity {name!r}?", yes)
    client.api().delete(f"/api/workload-identities/{segment(name)}")


@fed_app.command("create")
def fed_create(
    identity_name: IdentityName,
    name: CredName,
    issuer: Annotated[str, typer.Option("--issuer", help="OIDC issuer URL (https://...)")],
    subject: Annotated[str, typer.Option("--subject", help="the `sub` the workload's tokens carry")],
    audiences: Annotated[list[str] | None, typer.Option(
        "--audiences", metavar="AUDIENCE...", help="accepted `aud` values (server default: api://AzureADTokenExchange)",
    )] = None,
) -> None:
    """Trust tokens from an OIDC issuer for one subject."""
    body: dict[str, Any] = {"name": name, "issuer": issuer, "subject": subject}
    auds = split_values(audiences)
    if audiences is not None and not auds:
        usage_error("--audiences needs at least one value")
    if auds:
        body["audiences"] = auds
    result = client.api().post(f"/api/workload-identities/{segment(identity_name)}/federated-credentials", body)
    output.emit(result, FED_COLUMNS)


@fed_app.command("list")
def fed_list(identity_name: IdentityName) -> None:
    """List a workload identity's federated credentials."""
    identity = client.api().get(f"/api/workload-identities/{segment(identity_name)}")
    output.emit(identity.get("federatedCredentials") or [] if isinstance(identity, dict) else [], FED_COLUMNS)


@fed_app.command("delete")
def fed_delete(identity_name: IdentityName, name: CredName, yes: Yes = False) -> None:
    """Delete a federated credential: tokens from that issuer and subject stop working."""
    confirm(f"Delete federated credential {name!r} of {identity_name!r}?", yes)
    client.api().delete(
        f"/api/workload-identities/{segment(identity_name)}/federated-credentials/{segment(name)}")
