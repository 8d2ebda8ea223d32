"""`cargohold scope-map create|list|show|update|delete` (as `az acr scope-map`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cargohold.cli import client, output
from cargohold.cli.client import confirm, segment, usage_error
from cargohold.cli.common import Description, Yes, given, repository_actions

app = typer.Typer(no_args_is_help=True, help="Scope maps: which repository actions a token may perform.")

Name = Annotated[str, typer.Option("--name", "-n", help="scope map name")]
REPO_HELP = ("REPO ACTION...: a repository (or prefix/*) and actions among content/read, content/write, "
             "content/delete, metadata/read, metadata/write; repeatable")

SCOPE_MAP_COLUMNS: list[output.Column] = [
    ("Name", "name"), ("Type", "type"), ("Description", "description"), ("Actions", "actions"),
    ("Created", "createdAt"),
]


def _count_actions(row: dict[str, Any]) -> Any:
    actions = row.get("actions")
    return len(actions) if isinstance(actions, list) else None


LIST_COLUMNS: list[output.Column] = [
    ("Name", "name"), ("Type", "type"), ("Description", "description"), ("Actions", _count_actions),
    ("Created", "createdAt"),
]


@app.command("create")
def create(
    name: Name,
    repository: Annotated[list[str] | None, typer.Option(
        "--repository", metavar="REPO ACTION...", help=REPO_HELP)] = None,
    description: Description = None,
) -> None:
    """Create a scope map: `--repository backend/* content/read metadata/read --repository web content/write`."""
    actions = repository_actions("--repository", repository)
    if not actions:
        usage_error("give at least one --repository REPO ACTION...")
    body = {"name": name, "actions": actions} | given({"description": description})
    output.emit(client.api().post("/api/scope-maps", body), SCOPE_MAP_COLUMNS)


@app.command("list")
def list_() -> None:
    """List scope maps, the system-defined ones included."""
    output.emit(client.api().get("/api/scope-maps"), LIST_COLUMNS)


@app.command("show")
def show(name: Name) -> None:
    """Show one scope map and its actions."""
    output.emit(client.api().get(f"/api/scope-maps/{segment(name)}"), SCOPE_MAP_COLUMNS)


@app.command("update")
def update(
    name: Name,
    add_repository: Annotated[list[str] | None, typer.Option(
        "--add-repository", metavar="REPO ACTION...", help="actions to add; " + REPO_HELP)] = None,
    remove_repository: Annotated[list[str] | None, typer.Option(
        "--remove-repository", metavar="REPO ACTION...", help="actions to remove; " + REPO_HELP)] = None,
    description: Description = None,
) -> None:
    """Add or remove repository actions, or change the description."""
    add = repository_actions("--add-repository", add_repository) or None
    remove = repository_actions("--remove-repository", remove_repository) or None
    body = given({"addActions": add, "removeActions": remove, "description": description})
    if not body:
        usage_error("nothing to update: give --add-repository, --remove-repository or --description")
    output.emit(client.api().patch(f"/api/scope-maps/{segment(name)}", body), SCOPE_MAP_COLUMNS)


@app.command("delete")
def delete(name: Name, yes: Yes = False) -> None:
    """Delete a scope map (refused while a token uses it)."""
    confirm(f"Delete scope map {name!r}?", yes)
    client.api().delete(f"/api/scope-maps/{segment(name)}")
