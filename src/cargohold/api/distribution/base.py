"""GET /v2/ — API version check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import API_VERSION_HEADER


async def api_version(_request: Request) -> Response:
    return JSONResponse({}, headers=API_VERSION_HEADER)
