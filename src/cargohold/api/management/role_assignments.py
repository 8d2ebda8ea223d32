"""/api/role-assignments: an identity, a built-in role and a scope (the registry, or repositories)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from cargohold.core.role_assignments import AssignmentView

from . import models
from .deps import Context, reader, role_admin

router = APIRouter(tags=["role assignments"])
AssigneeKind = Literal["user", "servicePrincipal", "workloadIdentity"]
SCOPE_HELP = '"" for the whole registry, else repositories/<name> or repositories/<prefix>/*'


class RoleAssignment(models.Response):
    id: str
    assignee: str = Field(description="user name, service principal client id or workload identity name")
    assignee_kind: AssigneeKind
    role: str
    scope: str = Field(description=SCOPE_HELP)
    created_at: datetime


class RoleAssignmentCreate(models.Request):
    assignee: str
    role: str = Field(description="AcrPull, AcrPush, AcrDelete, AcrImageSigner, Reader, Contributor or Owner "
                                  "(any case)")
    scope: str = Field(default="", description=SCOPE_HELP)
    assignee_kind: AssigneeKind | None = Field(default=None, description="which kind `assignee` names; without "
                                                                         "it: a user, else a service principal, "
                                                                         "else a workload identity")


def assignment(view: AssignmentView) -> RoleAssignment:
    return RoleAssignment(id=view.id, assignee=view.assignee, assignee_kind=view.assignee_kind,
                          role=view.role, scope=view.scope, created_at=view.created_at)


@router.get("/role-assignments", response_model=list[RoleAssignment],
            summary="List role assignments (every filter given must match)")
def list_assignments(
    assignee: str | None = None,
    assignee_kind: AssigneeKind | None = Query(default=None, alias="assigneeKind"),
    role: str | None = None,
    scope: str | None = Query(default=None, description='present and empty ("scope=") means registry-wide'),
    context: Context = Depends(reader),
) -> list[RoleAssignment]:
    return [assignment(v) for v in context.identities.roles.list(
        context.registry.id, assignee=assignee, assignee_kind=assignee_kind, role=role, scope=scope)]


@router.post("/role-assignments", response_model=RoleAssignment, status_code=201,
             summary="Assign a role (Owner only)")
def create_assignment(body: RoleAssignmentCreate, context: Context = Depends(role_admin)) -> RoleAssignment:
    return assignment(context.identities.roles.create(
        context.registry.id, body.assignee, body.role, body.scope, body.assignee_kind))


@router.delete("/role-assignments/{id}", status_code=204, response_class=Response,
               summary="Delete a role assignment (Owner only; not the registry's last Owner)")
def delete_assignment(id: str, context: Context = Depends(role_admin)) -> Response:
    context.identities.roles.delete(context.registry.id, id)
    return Response(status_code=204)
