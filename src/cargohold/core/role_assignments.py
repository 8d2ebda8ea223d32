"""Role assignments: which built-in role (core/permissions.py ROLES) a user, service principal or workload
identity holds on the registry or on repositories, and the rule that the registry keeps an Owner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cargohold.core.errors import Conflict, InvalidArgument, NotFound
from cargohold.core.identity_common import SERVICE_PRINCIPAL, USER, WORKLOAD, OnChange, notifier, now
from cargohold.core.permissions import ROLES, validate_pattern
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import Identity, RoleAssignment

OWNER_ROLE = "Owner"
# How an assignee's kind is spelled in the API → the identity kind it names, in resolution order.
ASSIGNEE_KINDS: dict[str, str] = {"user": USER, "servicePrincipal": SERVICE_PRINCIPAL, "workloadIdentity": WORKLOAD}
_API_KINDS = {v: k for k, v in ASSIGNEE_KINDS.items()}
_REPOSITORIES = "repositories/"


@dataclass(frozen=True, slots=True)
class AssignmentView:
    id: str
    assignee: str  # user name, service principal client id or workload identity name
    assignee_kind: str  # a key of ASSIGNEE_KINDS
    role: str
    scope: str  # "" = the registry, else "repositories/<name or prefix/*>"
    created_at: datetime


def parse_role_scope(scope: str) -> str:
    """API scope ("" or `repositories/<name or prefix/*>`) → stored scope ("" or the pattern)."""
    if scope == "":
        return ""
    pattern = scope[len(_REPOSITORIES):] if scope.startswith(_REPOSITORIES) else ""
    if pattern == "*":
        raise InvalidArgument('scope repositories/* is the whole registry: use scope ""', {"scope": scope})
    try:
        return validate_pattern(pattern)
    except ValueError:
        raise InvalidArgument(f"invalid scope {scope[:300]!r}: use \"\" (the registry) or "
                              "repositories/<name> or repositories/<prefix>/*", {"scope": scope[:300]}) from None


def format_role_scope(stored: str) -> str:
    return f"{_REPOSITORIES}{stored}" if stored else ""


def canonical_role(role: str) -> str:
    """A built-in role's name, matched case-insensitively (as `az role assignment` does)."""
    for name in ROLES:
        if name.lower() == role.lower():
            return name
    raise InvalidArgument(f"unknown role {role[:100]!r}; use one of {', '.join(ROLES)}", {"role": role[:100]})


def _registry_owner(assignment: RoleAssignment) -> bool:
    return assignment.role == OWNER_ROLE and assignment.scope == ""


def delete_identity(store: AccessStore, identity: Identity, on_change: OnChange) -> None:
    """Delete `identity` (its credentials and assignments go with it) unless it holds the registry's last
    registry-wide Owner assignment: a registry always keeps someone who can manage it."""
    owners = [a for a in store.role_assignments(identity.registry_id) if _registry_owner(a)]
    if owners and all(a.identity_id == identity.id for a in owners):
        raise Conflict(f"{identity.name} holds the registry's last Owner role assignment; assign Owner "
                       "to another identity first", {"name": identity.name})
    store.delete_identity(identity.id)
    on_change(identity.id)


class RoleAssignmentService:
    def __init__(self, store: AccessStore, *, on_change: OnChange | None = None) -> None:
        self.store = store
        self._changed = notifier(on_change)

    def _assignee_candidates(self, registry_id: int, assignee: str, assignee_kind: str | None) -> list[Identity]:
        if assignee_kind is not None and assignee_kind not in ASSIGNEE_KINDS:
            raise InvalidArgument(f"assigneeKind must be one of {', '.join(ASSIGNEE_KINDS)}",
                                  {"assigneeKind": assignee_kind[:100]})
        if len(assignee) > 128 or not assignee.isprintable():
            return []
        kinds = [ASSIGNEE_KINDS[assignee_kind]] if assignee_kind else list(ASSIGNEE_KINDS.values())
        found = (self.store.find_identity(registry_id, kind, assignee) for kind in kinds)
        return [i for i in found if i is not None]

    @staticmethod
    def _view(assignment: RoleAssignment, identity: Identity | None) -> AssignmentView:
        return AssignmentView(assignment.id, identity.name if identity else "",
                              _API_KINDS.get(identity.kind, "") if identity else "", assignment.role,
                              format_role_scope(assignment.scope), assignment.created_at)

    def list(self, registry_id: int, *, assignee: str | None = None, assignee_kind: str | None = None,
             role: str | None = None, scope: str | None = None) -> list[AssignmentView]:
        """Every assignment, or those matching all the filters given (scope "" = registry-wide ones)."""
        wanted_role = canonical_role(role) if role is not None else None
        wanted_scope = parse_role_scope(scope) if scope is not None else None
        ids = None
        if assignee is not None:
            ids = {i.id for i in self._assignee_candidates(registry_id, assignee, assignee_kind)}
        elif assignee_kind is not None:
            self._assignee_candidates(registry_id, "", assignee_kind)  # checks the kind
            ids = {i.id for i in self.store.list_identities(registry_id, ASSIGNEE_KINDS[assignee_kind])}
        identities = {i.id: i for i in self.store.list_identities(registry_id)}
        return [self._view(a, identities.get(a.identity_id))
                for a in self.store.role_assignments(registry_id)
                if (ids is None or a.identity_id in ids) and (wanted_role is None or a.role == wanted_role)
                and (wanted_scope is None or a.scope == wanted_scope)]

    def create(self, registry_id: int, assignee: str, role: str, scope: str = "",
               assignee_kind: str | None = None) -> AssignmentView:
        """Give `assignee` (a user name, service principal client id or workload identity name, tried in
        that order unless `assignee_kind` says which) `role` on the registry or on repositories."""
        role = canonical_role(role)
        stored_scope = parse_role_scope(scope)
        candidates = self._assignee_candidates(registry_id, assignee, assignee_kind)
        if not candidates:
            raise NotFound(f"no user, service principal or workload identity named {assignee[:100]!r}",
                           {"assignee": assignee[:100]})
        identity = candidates[0]
        if any(a.role == role and a.scope == stored_scope
               for a in self.store.role_assignments(registry_id, identity.id)):
            raise Conflict(f"{identity.name} already has {role} on {scope or 'the registry'}",
                           {"assignee": identity.name, "role": role, "scope": scope})
        assignment = RoleAssignment(str(uuid.uuid4()), registry_id, identity.id, role, stored_scope, now())
        self.store.add_role_assignment(assignment)
        self._changed(identity.id)
        return self._view(assignment, identity)

    def delete(self, registry_id: int, assignment_id: str) -> None:
        assignments = self.store.role_assignments(registry_id)
        target = next((a for a in assignments if a.id == assignment_id), None)
        if target is None:
            raise NotFound(f"role assignment {assignment_id[:100]!r} not found", {"id": assignment_id[:100]})
        if _registry_owner(target) and not any(_registry_owner(a) and a.id != target.id for a in assignments):
            raise Conflict("this is the registry's last Owner role assignment; assign Owner to another identity "
                           "first", {"id": assignment_id})
        self.store.delete_role_assignment(registry_id, assignment_id)
        self._changed(target.identity_id)
