"""GET/POST /oauth2/token and POST /oauth2/exchange, as docker, podman, skopeo and containerd use them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cargohold.api.distribution.context import registry, services
from cargohold.api.distribution.errors import error_response
from cargohold.api.throttling import throttle_login, throttle_login_attempt
from cargohold.core.access import REFRESH_TOKEN_SECONDS, Principal, source_label
from cargohold.core.blocking import blocking
from cargohold.core.errors import Unauthorized
from cargohold.core.federation import INVALID, FederationService

from .credentials import principal_from_basic

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693
_SUBJECT_TOKEN_TYPES = ("urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token",
                        "urn:ietf:params:oauth:token-type:access_token")


def _unauthorized(message: str) -> Response:
    return error_response(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": 'Basic realm="cargohold"'})


async def _token_response(request: Request, principal: Principal, scopes: list[str], offline: bool) -> Response:
    await throttle_login(request, principal)
    svc, reg = services(request), registry(request)
    body = await blocking(svc.access.issue_access_token, reg, principal, scopes)
    if offline and principal.identity_id is not None:
        body["refresh_token"] = await blocking(svc.access.issue_refresh_token, reg, principal)
    return JSONResponse(body, headers=_NO_STORE)


async def token_get(request: Request) -> Response:
    """Docker's token endpoint: Basic credentials (or none, for anonymous pull) → access token."""
    await throttle_login_attempt(request)
    svc, reg = services(request), registry(request)
    params = request.query_params
    try:
        principal = await principal_from_basic(svc.access, reg, request, method="token")
    except Unauthorized as e:
        return _unauthorized(e.message)
    if principal is None:
        if not await blocking(svc.access.anonymous_pull_enabled, reg.id):
            return _unauthorized("authentication required: anonymous pull is disabled on this registry")
        principal = await blocking(svc.access.anonymous, reg.id)
    offline = params.get("offline_token", "").lower() == "true"
    return await _token_response(request, principal, params.getlist("scope"), offline)


async def token_post(request: Request) -> Response:
    """OAuth2 form: grant_type=password (username, password) or refresh_token (refresh_token)."""
    await throttle_login_attempt(request)
    svc, reg = services(request), registry(request)
    form = await request.form()
    grant = str(form.get("grant_type", ""))
    scopes = [str(s) for part in form.getlist("scope") for s in str(part).split(" ") if s]
    source = source_label(request.client)
    try:
        if grant == "password":
            username, password = str(form.get("username", "")), str(form.get("password", ""))
            principal = await blocking(lambda: svc.access.authenticate(
                reg, username, password, method="password", source=source))
            offline = str(form.get("access_type", "")) == "offline"
        elif grant == "refresh_token":
            refresh = str(form.get("refresh_token", ""))
            principal = await blocking(lambda: svc.access.principal_from_refresh_token(
                reg, refresh, source=source))
            offline = False
        else:
            return error_response(400, "UNSUPPORTED", "grant_type must be password or refresh_token",
                                  {"grant_type": grant})
    except Unauthorized as e:
        return _unauthorized(e.message)
    return await _token_response(request, principal, scopes, offline)


def federation(request: Request) -> FederationService:
    """The app's federation service (one per worker: it caches issuers' keys), built by app.py."""
    return services(request).federation


async def exchange(request: Request) -> Response:
    """A credential → a refresh token.

    - `grant_type=password` (default): username and password (or Basic credentials) of an identity;
    - `grant_type=access_token` with `access_token=<OIDC JWT>` (ACR's form), or RFC 8693
      `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` with `subject_token=<OIDC JWT>`:
      a federated workload token (core/federation.py); optional `client_id` names the workload identity
      when several trust the same issuer and subject.
    """
    await throttle_login_attempt(request)
    svc, reg = services(request), registry(request)
    form = await request.form()
    grant = str(form.get("grant_type", "password"))
    source = source_label(request.client)
    try:
        if grant == "password":
            username, password = str(form.get("username", "")), str(form.get("password", ""))
            if not username:
                basic = await principal_from_basic(svc.access, reg, request, method="exchange")
                if basic is None:
                    raise Unauthorized("username and password, or Basic credentials, are required")
                principal = basic
            else:
                principal = await blocking(lambda: svc.access.authenticate(
                    reg, username, password, method="exchange", source=source))
        elif grant in ("access_token", TOKEN_EXCHANGE):
            field = "access_token" if grant == "access_token" else "subject_token"
            presented = str(form.get(field, "")).strip()
            if not presented:
                return error_response(400, "UNSUPPORTED", f"{field} is required for grant_type {grant}")
            token_type = str(form.get("subject_token_type", ""))
            if grant == TOKEN_EXCHANGE and token_type and token_type not in _SUBJECT_TOKEN_TYPES:
                return error_response(400, "UNSUPPORTED", "subject_token_type must name a JWT",
                                      {"subject_token_type": token_type})
            service = str(form.get("service", ""))
            if service and service != reg.login_server:
                return error_response(400, "UNSUPPORTED", "service does not name this registry",
                                      {"service": service})
            client_id = str(form.get("client_id", "")) or None
            fed = federation(request)
            principal = await blocking(lambda: fed.exchange(reg, presented, source=source,
                                                            client_id=client_id))
        else:
            return error_response(400, "UNSUPPORTED", "unsupported grant_type", {"grant_type": grant})
    except Unauthorized as e:
        if grant in ("access_token", TOKEN_EXCHANGE):
            return error_response(401, "UNAUTHORIZED", INVALID, headers=_NO_STORE)
        return _unauthorized(e.message)
    await throttle_login(request, principal)
    refresh = await blocking(svc.access.issue_refresh_token, reg, principal)
    body: dict[str, object] = {"refresh_token": refresh}
    if grant == TOKEN_EXCHANGE:  # RFC 8693's response fields, beside ACR's
        body.update(access_token=refresh, issued_token_type="urn:ietf:params:oauth:token-type:refresh_token",
                    token_type="N_A", expires_in=REFRESH_TOKEN_SECONDS)
    return JSONResponse(body, headers=_NO_STORE)


routes: list[BaseRoute] = [
    Route("/oauth2/token", token_get, methods=["GET"]),
    Route("/oauth2/token", token_post, methods=["POST"]),
    Route("/oauth2/exchange", exchange, methods=["POST"]),
]
