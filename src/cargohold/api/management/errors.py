"""Domain errors (and FastAPI's own) → `{"errors":[{code, message, detail}]}` with the contract's statuses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from cargohold.api.errors import status_for
from cargohold.api.space_errors import out_of_space_errors, out_of_space_handler
from cargohold.core import errors as e
from cargohold.core.storage_space import StorageSpace

log = logging.getLogger("cargohold.management")

_HTTP_CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHORIZED", 403: "DENIED", 404: "NOT_FOUND", 405: "UNSUPPORTED",
               409: "CONFLICT", 413: "SIZE_INVALID", 415: "UNSUPPORTED"}
CHALLENGE = {"WWW-Authenticate": 'Basic realm="cargohold"'}


def error_response(status: int, code: str, message: str, detail: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "message": message, "detail": detail}]}, status_code=status,
                        headers=headers)


async def _registry_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.RegistryError)
    status = status_for(exc)
    headers = dict(CHALLENGE) if status == 401 else {}
    if isinstance(exc, e.TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(status, exc.code, exc.message, exc.detail, headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [{"location": _location(tuple(err.get("loc", ()))), "message": str(err.get("msg", ""))}
                for err in exc.errors()]
    first = problems[0] if problems else {"location": "", "message": "invalid request"}
    message = f"{first['location']}: {first['message']}" if first["location"] else first["message"]
    return error_response(400, "INVALID_ARGUMENT", message, problems)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in getattr(request.app.state, "route_table", ()):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    message = "no such endpoint" if status == 404 else str(exc.detail)
    headers = dict(exc.headers or {})
    if status == 401:
        headers.update(CHALLENGE)
    if status == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return error_response(status, _HTTP_CODES.get(status, "UNKNOWN"), message, None, headers)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unexpected error in the management API", exc_info=exc)
    return error_response(500, "UNKNOWN", "internal error; see the registry log")


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.RegistryError, _registry_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    space_errors = out_of_space_handler(_space, lambda full: error_response(403, full.code, full.message, full.detail),
                                        _unexpected)
    for cls in out_of_space_errors():  # metadata/ turns IntegrityError into Conflict before it gets here
        app.add_exception_handler(cls, space_errors)
    app.add_exception_handler(Exception, _unexpected)


def _space(request: Request) -> StorageSpace | None:
    space: StorageSpace | None = request.app.state.management.space
    return space
