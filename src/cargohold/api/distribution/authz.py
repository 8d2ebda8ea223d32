"""Who may call which /v2/ route: resolve the caller, check the route's action, or challenge."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from cargohold.api.auth.credentials import resolve_caller
from cargohold.core.access import Caller, TokenCaller
from cargohold.core.errors import Denied, Unauthorized
from cargohold.core.permissions import DELETE, METADATA_READ, METADATA_WRITE, PULL, PUSH, SIGN

from .context import registry, services

# The Docker scope actions a client should ask the token endpoint for, per required action.
DOCKER_ACTIONS = {PULL: "pull", METADATA_READ: "pull", PUSH: "pull,push", SIGN: "pull,push",
                  DELETE: "delete", METADATA_WRITE: "pull,push"}
CATALOG_SCOPE = "registry:catalog:*"


def challenge(request: Request, scope: str | None, error: str | None = None) -> str:
    """The WWW-Authenticate value pointing clients at this registry's token endpoint."""
    addressed = registry(request)
    host = request.headers.get("host") or addressed.login_server
    parts = [f'realm="{request.url.scheme}://{host}/oauth2/token"', f'service="{addressed.login_server}"']
    if scope:
        parts.append(f'scope="{scope}"')
    if error:
        parts.append(f'error="{error}"')
    return "Bearer " + ",".join(parts)


def repository_scope(name: str, actions: tuple[str, ...]) -> str:
    wanted = sorted({a for action in actions for a in DOCKER_ACTIONS[action].split(",")},
                    key=["pull", "push", "delete"].index)
    return f"repository:{name}:{','.join(wanted)}"


async def _caller(request: Request, scope: Callable[[], str | None]) -> tuple[Caller, bool]:
    """`scope` is built only when a challenge is needed: the allowed path (every pull) skips it."""
    try:
        return await resolve_caller(services(request).access, registry(request), request)
    except Unauthorized as e:
        raise Unauthorized(e.message, {"challenge": challenge(request, scope(), "invalid_token")}) from None


def _refuse(request: Request, caller: Caller, presented: bool, scope: str) -> Exception:
    if not presented:
        return Unauthorized(detail={"challenge": challenge(request, scope)})
    if isinstance(caller, TokenCaller):
        return Unauthorized("the access token does not grant this operation",
                            {"challenge": challenge(request, scope, "insufficient_scope")})
    return Denied(f"{caller.name or 'the caller'} may not perform this operation")


async def authorize_repository(request: Request, name: str, actions: tuple[str, ...]) -> Caller:
    """The caller, when they hold any of `actions` on repository `name`."""
    caller, presented = await _caller(request, lambda: repository_scope(name, actions))
    if not any(caller.allows(name, action) for action in actions):
        raise _refuse(request, caller, presented, repository_scope(name, actions))
    request.state.caller = caller
    return caller


async def authorize_catalog(request: Request) -> Caller:
    caller, presented = await _caller(request, lambda: CATALOG_SCOPE)
    if not caller.may_list_catalog:
        raise _refuse(request, caller, presented, CATALOG_SCOPE)
    return caller


async def authenticate_base(request: Request) -> Caller:
    """GET /v2/: any valid credentials (an anonymous token counts when anonymous pull is on)."""
    caller, presented = await _caller(request, lambda: None)
    if not presented:
        raise Unauthorized(detail={"challenge": challenge(request, None)})
    return caller
