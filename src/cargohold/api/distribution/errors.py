"""Domain errors → OCI error JSON with the spec's statuses."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cargohold.core import errors as e

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}

_STATUS: list[tuple[type[e.RegistryError], int]] = [
    (e.RangeInvalid, 416),
    (e.RangeNotSatisfiable, 416),
    (e.TooLarge, 413),
    (e.BlobUnknown, 404),
    (e.BlobUploadUnknown, 404),
    (e.ManifestUnknown, 404),
    (e.NameUnknown, 404),
    (e.Denied, 403),
    (e.Unauthorized, 401),
    (e.TooManyRequests, 429),
    (e.Unsupported, 405),
]


def status_for(error: e.RegistryError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 400


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
