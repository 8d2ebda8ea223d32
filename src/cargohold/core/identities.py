"""The identity services, one per concept, built together for the composition root. No rules here:

- users (and the registry's `owner`): core/users.py
- service principals: core/service_principals.py
- workload identities and federated credentials: core/workload_identities.py
- repository tokens: core/tokens.py
- scope maps: core/scope_maps.py
- role assignments (and the last-Owner rule): core/role_assignments.py
- the admin user and the registry's switches: core/admin_user.py
- the login log: core/login_events.py
- what they share (kinds, secrets as shown, hooks): core/identity_common.py
"""

from __future__ import annotations

from dataclasses import dataclass

from cargohold.core.admin_user import AdminUserService
from cargohold.core.identity_common import Limits, OnChange
from cargohold.core.login_events import LoginEventService
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.role_assignments import RoleAssignmentService
from cargohold.core.scope_maps import ScopeMapService
from cargohold.core.service_principals import ServicePrincipalService
from cargohold.core.tokens import TokenService
from cargohold.core.users import UserService
from cargohold.core.workload_identities import WorkloadIdentityService


@dataclass(frozen=True, slots=True)
class Identities:
    users: UserService
    service_principals: ServicePrincipalService
    workloads: WorkloadIdentityService
    tokens: TokenService
    scope_maps: ScopeMapService
    roles: RoleAssignmentService
    admin: AdminUserService
    logins: LoginEventService

    @classmethod
    def build(cls, store: AccessStore, *, allow_insecure_issuers: bool = False, on_change: OnChange | None = None,
              limits: Limits | None = None) -> Identities:
        """Every identity service on `store`. `on_change` (AccessService.forget) drops cached grants and
        passwords after a change; `limits` (LimitGuard.checker) enforces the SKU's token and scope-map
        counts; `allow_insecure_issuers` lets federated credentials name http://127.0.0.1 or localhost."""
        scope_maps = ScopeMapService(store, limits=limits, on_change=on_change)
        return cls(
            users=UserService(store, on_change=on_change),
            service_principals=ServicePrincipalService(store, on_change=on_change),
            workloads=WorkloadIdentityService(store, allow_insecure_issuers=allow_insecure_issuers,
                                              on_change=on_change),
            tokens=TokenService(store, scope_maps, limits=limits, on_change=on_change),
            scope_maps=scope_maps,
            roles=RoleAssignmentService(store, on_change=on_change),
            admin=AdminUserService(store, on_change=on_change),
            logins=LoginEventService(store),
        )
