"""Domain errors → OCI error JSON; the status comes from the one catalogue (api/errors.py)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cargohold.api.errors import status_for
from cargohold.core import errors as e

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}

def error_response(status: int, code: str, message: str, detail: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": detail}]})
    return Response(body, status_code=status, media_type="application/json",
                    headers={**API_VERSION_HEADER, **(headers or {})})


def registry_error_response(error: e.RegistryError) -> Response:
    headers = {}
    detail = error.detail
    if isinstance(error, e.RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{error.size}"
    if isinstance(error, e.Unauthorized) and isinstance(detail, dict) and "challenge" in detail:
        headers["WWW-Authenticate"] = detail["challenge"]
        detail = None
    if isinstance(error, e.TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    return error_response(status_for(error), error.code, error.message, detail, headers)


async def handle_registry_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.RegistryError)
    return registry_error_response(exc)
