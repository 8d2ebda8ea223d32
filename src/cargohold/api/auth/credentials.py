"""Reading credentials off a request and turning them into a Caller."""

from __future__ import annotations

import base64

from starlette.requests import Request

from cargohold.core.access import AccessService, Caller, Principal, source_label
from cargohold.core.blocking import blocking
from cargohold.core.errors import Unauthorized
from cargohold.core.ports.records import Registry


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        # ValueError covers binascii.Error, UnicodeDecodeError and a header that is not ASCII at all.
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except ValueError:
        raise Unauthorized("malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep or "\x00" in decoded:  # NUL is no part of a name (and PostgreSQL text refuses it)
        raise Unauthorized("malformed Basic credentials")
    return username, password


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def principal_from_basic(access: AccessService, registry: Registry, request: Request,
                               method: str = "basic") -> Principal | None:
    creds = basic_credentials(request)
    if creds is None:
        return None
    return await blocking(lambda: access.authenticate(registry, creds[0], creds[1], method=method,
                                                      source=source_label(request.client)))


async def resolve_caller(access: AccessService, registry: Registry, request: Request) -> tuple[Caller, bool]:
    """The caller and whether they presented credentials (a token or a password)."""
    token = bearer_token(request)
    if token is not None:
        return access.caller_from_access_token(registry, token), True
    principal = await principal_from_basic(access, registry, request)
    if principal is not None:
        return principal, True
    return await blocking(access.anonymous, registry.id), False
