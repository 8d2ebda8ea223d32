"""GET/POST /oauth2/token and POST /oauth2/exchange, as docker, podman, skopeo and containerd use them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cargohold.api.distribution.context import services
from cargohold.api.distribution.errors import error_response
from cargohold.core.access import Principal, source_label
from cargohold.core.blocking import blocking
from cargohold.core.errors import Unauthorized

from .credentials import principal_from_basic

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _unauthorized(message: str) -> Response:
    return error_response(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": 'Basic realm="cargohold"'})


async def _token_response(request: Request, principal: Principal, scopes: list[str], offline: bool) -> Response:
    svc = services(request)
    body = await blocking(svc.access.issue_access_token, svc.registry, principal, scopes)
    if offline and principal.identity_id is not None:
        body["refresh_token"] = await blocking(svc.access.issue_refresh_token, svc.registry, principal)
    return JSONResponse(body, headers=_NO_STORE)


async def token_get(request: Request) -> Response:
    """Docker's token endpoint: Basic credentials (or none, for anonymous pull) → access token."""
    svc = services(request)
    params = request.query_params
    try:
        principal = await principal_from_basic(svc.access, svc.registry, request, method="token")
    except Unauthorized as e:
        return _unauthorized(e.message)
    if principal is None:
        if not await blocking(svc.access.anonymous_pull_enabled, svc.registry.id):
            return _unauthorized("authentication required: anonymous pull is disabled on this registry")
        principal = await blocking(svc.access.anonymous, svc.registry.id)
    offline = params.get("offline_token", "").lower() == "true"
    return await _token_response(request, principal, params.getlist("scope"), offline)


async def token_post(request: Request) -> Response:
    """OAuth2 form: grant_type=password (username, password) or refresh_token (refresh_token)."""
    svc = services(request)
    form = await request.form()
    grant = str(form.get("grant_type", ""))
    scopes = [str(s) for part in form.getlist("scope") for s in str(part).split(" ") if s]
    source = source_label(request.client)
    try:
        if grant == "password":
            username, password = str(form.get("username", "")), str(form.get("password", ""))
            principal = await blocking(lambda: svc.access.authenticate(
                svc.registry, username, password, method="password", source=source))
            offline = str(form.get("access_type", "")) == "offline"
        elif grant == "refresh_token":
            refresh = str(form.get("refresh_token", ""))
            principal = await blocking(lambda: svc.access.principal_from_refresh_token(
                svc.registry, refresh, source=source))
            offline = False
        else:
            return error_response(400, "UNSUPPORTED", "grant_type must be password or refresh_token",
                                  {"grant_type": grant})
    except Unauthorized as e:
        return _unauthorized(e.message)
    return await _token_response(request, principal, scopes, offline)


async def exchange(request: Request) -> Response:
    """An identity's credential → a refresh token (federated workload tokens: see federation)."""
    svc = services(request)
    form = await request.form()
    grant = str(form.get("grant_type", "password"))
    source = source_label(request.client)
    try:
        if grant == "password":
            username, password = str(form.get("username", "")), str(form.get("password", ""))
            if not username:
                basic = await principal_from_basic(svc.access, svc.registry, request, method="exchange")
                if basic is None:
                    raise Unauthorized("username and password, or Basic credentials, are required")
                principal = basic
            else:
                principal = await blocking(lambda: svc.access.authenticate(
                    svc.registry, username, password, method="exchange", source=source))
        else:
            return error_response(400, "UNSUPPORTED", "unsupported grant_type", {"grant_type": grant})
    except Unauthorized as e:
        return _unauthorized(e.message)
    refresh = await blocking(svc.access.issue_refresh_token, svc.registry, principal)
    return JSONResponse({"refresh_token": refresh}, headers=_NO_STORE)


routes: list[BaseRoute] = [
    Route("/oauth2/token", token_get, methods=["GET"]),
    Route("/oauth2/token", token_post, methods=["POST"]),
    Route("/oauth2/exchange", exchange, methods=["POST"]),
]
