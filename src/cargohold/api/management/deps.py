"""Who is calling the control plane (HTTP Basic) and whether they may (cp:read, cp:write, cp:roles)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBasic

from cargohold.api.auth.credentials import basic_credentials
from cargohold.core.access import Principal, source_label
from cargohold.core.errors import Denied, NotFound, Unauthorized
from cargohold.core.identities import Identities
from cargohold.core.permissions import CP_READ, CP_ROLES, CP_WRITE
from cargohold.core.ports.records import Registry
from cargohold.core.registries import RegistryService

from .services import Management

__all__ = ["Management"]

LOGIN_METHOD = "management"  # how control-plane sign-ins appear in the login log
REGISTRY_HEADER = "X-Cargohold-Registry"  # addresses a registry by name (the CLI's -r/--registry)


@dataclass(frozen=True, slots=True)
class Context:
    """One authorised request: the registry it addresses, the services, and who is calling."""

    registry: Registry
    identities: Identities
    principal: Principal
    registries: RegistryService | None = None


class _BasicScheme(HTTPBasic):
    """Declares HTTP Basic in the OpenAPI document; `authenticate` reads the header itself (UTF-8)."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


basic_scheme = _BasicScheme(
    scheme_name="basic", realm="cargohold",
    description="A user's name and password, a service principal's client id and secret, the admin user "
                "(registry name) and one of its passwords, or 00000000-0000-0000-0000-000000000000 and a "
                "refresh token. Repository tokens are refused.",
)


def management(request: Request) -> Management:
    return request.app.state.management  # type: ignore[no-any-return]


def addressed_registry(request: Request) -> Registry:
    """The registry a request addresses: the one `X-Cargohold-Registry` names (the CLI's --registry),
    else the one whose login server is the Host, else the default registry."""
    m = management(request)
    name = request.headers.get(REGISTRY_HEADER)
    if name is not None:
        found = m.registries.by_name(name.strip()) if len(name) <= 50 else None
        if found is None:
            raise NotFound(f"registry {name[:100]!r} not found (named by {REGISTRY_HEADER})", {"name": name[:100]})
        return found
    return m.registries.for_host(request.headers.get("host"))


def required_credentials(request: Request) -> tuple[str, str]:
    """The request's HTTP Basic username and password (401 without them)."""
    credentials = basic_credentials(request)
    if credentials is None:
        raise Unauthorized("HTTP Basic credentials are required")
    return credentials


def signed_in(request: Request, registry: Registry, credentials: tuple[str, str]) -> Principal:
    """Who `credentials` prove to be in `registry` (every attempt goes to the login log as `management`)."""
    return management(request).access.authenticate(registry, credentials[0], credentials[1], method=LOGIN_METHOD,
                                                   source=source_label(request.client))


def _sign_in(request: Request, registry: Registry) -> Principal:
    principal = signed_in(request, registry, required_credentials(request))
    if principal.kind in ("token", "anonymous"):
        raise Denied("repository tokens cannot use the control plane; sign in as a user, service principal, "
                     "workload identity or the admin user")
    return principal


def authenticate(request: Request, _scheme: None = Security(basic_scheme)) -> Context:
    """The verified caller of the addressed registry (runs in the thread pool: argon2 and the store block)."""
    m = management(request)
    registry = addressed_registry(request)
    return Context(registry, m.identities, _sign_in(request, registry), m.operator)


def operator(request: Request, _scheme: None = Security(basic_scheme)) -> Context:
    """An operator: an identity with the Owner role on the default registry, signed in against the
    default registry whatever the Host. `context.registry` is the default registry."""
    m = management(request)
    default = m.registries.default
    context = Context(default, m.identities, _sign_in(request, default), m.operator)
    if not context.principal.grant.registry_wide(CP_ROLES):
        raise Denied(f"{context.principal.name} may not manage registries: it needs the Owner role on the "
                     f"default registry {default.name!r}", {"permission": CP_ROLES})
    return context


def _require(context: Context, permission: str, roles: str) -> Context:
    if not context.principal.grant.registry_wide(permission):
        raise Denied(f"{context.principal.name} may not do this: it needs {roles} on the registry",
                     {"permission": permission})
    return context


def reader(context: Context = Depends(authenticate)) -> Context:
    """cp:read registry-wide (Reader, Contributor, Owner, the admin user)."""
    return _require(context, CP_READ, "Reader, Contributor or Owner")


def writer(context: Context = Depends(authenticate)) -> Context:
    """cp:write registry-wide (Contributor, Owner, the admin user)."""
    return _require(context, CP_WRITE, "Contributor or Owner")


def role_admin(context: Context = Depends(authenticate)) -> Context:
    """cp:roles registry-wide (Owner)."""
    return _require(context, CP_ROLES, "Owner")
