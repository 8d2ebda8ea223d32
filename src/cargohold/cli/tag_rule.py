"""`cargohold tag-rule create|list|delete`: write-once tag rules (beyond ACR)."""

from __future__ import annotations

from typing import Annotated

import typer

from cargohold.cli import client, output
from cargohold.cli.client import confirm, segment
from cargohold.cli.common import Yes, given

app = typer.Typer(no_args_is_help=True,
                  help="Write-once tag rules: a tag matching a rule's pattern is pushed once, never moved or deleted.")

RULE_COLUMNS: list[output.Column] = [
    ("Id", "id"), ("Repository", lambda r: r.get("repository") or "(all)"), ("Pattern", "pattern"),
    ("Description", "description"), ("Created", "createdAt"),
]


@app.command("create")
def create(
    pattern: Annotated[str, typer.Option("--pattern", metavar="REGEX",
                                         help=r"RE2 pattern the whole tag must match, e.g. '^v\d+\.\d+\.\d+$'")],
    repository: Annotated[str | None, typer.Option(
        "--repository", metavar="REPO|PREFIX/*", help="limit the rule to a repository or 'prefix/*' (default: all)")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="why the rule exists")] = None,
) -> None:
    """Create a rule. It protects tags from the next push on (existing tags that match become write-once too)."""
    body = {"pattern": pattern} | given({"repository": repository or None, "description": description})
    output.emit(client.api().post("/api/tag-rules", body), RULE_COLUMNS)


@app.command("list")
def list_() -> None:
    """List the registry's rules."""
    output.emit(client.api().get("/api/tag-rules"), RULE_COLUMNS)


@app.command("delete")
def delete(
    rule_id: Annotated[str, typer.Option("--id", metavar="ID", help="the rule's id (see tag-rule list)")],
    yes: Yes = False,
) -> None:
    """Delete a rule: the tags it protected can be moved and deleted again."""
    confirm(f"Delete tag rule {rule_id}?", yes)
    client.api().delete(f"/api/tag-rules/{segment(rule_id)}")
