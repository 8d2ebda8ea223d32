"""`cargohold role assignment create|list|delete` (as `az role assignment`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cargohold.cli import client, output
from cargohold.cli.client import confirm, segment, usage_error
from cargohold.cli.common import Yes

app = typer.Typer(no_args_is_help=True, help="Roles granted to identities.")
assignment_app = typer.Typer(no_args_is_help=True, help="Role assignments: an identity, a role and a scope.")
app.add_typer(assignment_app, name="assignment")

ROLES_HELP = "AcrPull, AcrPush, AcrDelete, AcrImageSigner, Reader, Contributor or Owner"
Assignee = Annotated[str | None, typer.Option(
    "--assignee", help="user name, service principal client id or workload identity name")]
Role = Annotated[str | None, typer.Option("--role", help=ROLES_HELP)]
Scope = Annotated[str | None, typer.Option(
    "--scope", help="the registry (omit, or '/') or repositories: 'backend/*', 'repositories/backend/*'")]

AssigneeKind = Annotated[str | None, typer.Option(
    "--assignee-kind", metavar="user|servicePrincipal|workloadIdentity",
    help="which kind of identity --assignee names, when names collide")]

ASSIGNMENT_COLUMNS: list[output.Column] = [
    ("Id", "id"), ("Assignee", "assignee"), ("Kind", "assigneeKind"), ("Role", "role"),
    ("Scope", lambda row: row.get("scope") or "(registry)"), ("Created", "createdAt"),
]


def normalize_scope(scope: str | None) -> str | None:
    """'' for the whole registry, else `repositories/<pattern>`."""
    if scope is None:
        return None
    text = scope.strip()
    if text in ("", "/", "registry"):
        return ""
    text = text.strip("/")
    return text if text.startswith("repositories/") else f"repositories/{text}"


@assignment_app.command("create")
def create(
    assignee: Assignee = None,
    role: Role = None,
    scope: Scope = None,
    assignee_kind: AssigneeKind = None,
) -> None:
    """Grant a role to an identity on the registry or on repositories."""
    if not assignee or not role:
        usage_error("give --assignee and --role")
    body: dict[str, Any] = {"assignee": assignee, "role": role}
    if (sc := normalize_scope(scope)) is not None:
        body["scope"] = sc
    if assignee_kind:
        body["assigneeKind"] = assignee_kind
    output.emit(client.api().post("/api/role-assignments", body), ASSIGNMENT_COLUMNS)


@assignment_app.command("list")
def list_(assignee: Assignee = None, role: Role = None, scope: Scope = None,
          assignee_kind: AssigneeKind = None) -> None:
    """List role assignments, optionally filtered (every filter given must match)."""
    result = client.api().get("/api/role-assignments", assignee=assignee, role=role, scope=normalize_scope(scope),
                              assigneeKind=assignee_kind)
    output.emit(result, ASSIGNMENT_COLUMNS)


@assignment_app.command("delete")
def delete(
    id_: Annotated[list[str] | None, typer.Option("--id", "--ids", help="assignment id (repeatable)")] = None,
    assignee: Assignee = None,
    role: Role = None,
    scope: Scope = None,
    yes: Yes = False,
) -> None:
    """Delete role assignments by --id, or every one matching --assignee/--role/--scope."""
    api = client.api()
    ids = list(id_ or [])
    if ids and (assignee or role or scope is not None):
        usage_error("--id cannot be combined with --assignee, --role or --scope")
    if not ids:
        if not (assignee or role or scope is not None):
            usage_error("give --id, or --assignee/--role/--scope to select assignments")
        matches = api.get("/api/role-assignments", assignee=assignee, role=role, scope=normalize_scope(scope))
        ids = [str(m["id"]) for m in matches or [] if isinstance(m, dict) and "id" in m]
        if not ids:
            raise client.CliError("no role assignment matches")
    what = f"role assignment {ids[0]}" if len(ids) == 1 else f"{len(ids)} role assignments"
    confirm(f"Delete {what}?", yes)
    for assignment in ids:
        api.delete(f"/api/role-assignments/{segment(assignment)}")
