"""`cargohold config retention show|update` (as `az acr config retention`): the retention policy for
untagged manifests. (Not to be confused with cli/config.py, the CLI's own settings file.)"""

from __future__ import annotations

from typing import Annotated

import typer

from cargohold.cli import client, output
from cargohold.cli.common import given

app = typer.Typer(no_args_is_help=True, help="Registry policies.")
retention = typer.Typer(no_args_is_help=True, help="The retention policy for untagged manifests (Premium).")
app.add_typer(retention, name="retention")

RETENTION_COLUMNS: list[output.Column] = [
    ("Status", "status"), ("Days", "days"), ("Type", "type"), ("Last Updated", "lastUpdatedTime"),
]
PATH = "/api/registry/retention"


@retention.command("show")
def show() -> None:
    """Show the policy: status, days, type and when it last changed."""
    output.emit(client.api().get(PATH), RETENTION_COLUMNS)


@retention.command("update")
def update(
    status: Annotated[str | None, typer.Option("--status", metavar="enabled|disabled",
                                               help="turn the policy on or off")] = None,
    days: Annotated[int | None, typer.Option(
        "--days", help="delete untagged manifests after this many days (0-365; 0: at the next sweep)")] = None,
    policy_type: Annotated[str | None, typer.Option(
        "--type", metavar="UntaggedManifests", help="the policy type (the only one: UntaggedManifests)")] = None,
) -> None:
    """Change the policy. Enabling it needs the Premium SKU."""
    if status is not None and status.lower() not in ("enabled", "disabled"):
        client.usage_error(f"--status takes enabled or disabled, not {status!r}")
    body = given({"status": status and status.lower(), "days": days, "type": policy_type})
    if not body:
        client.usage_error("nothing to update: give --status and/or --days")
    output.emit(client.api().patch(PATH, body), RETENTION_COLUMNS)
