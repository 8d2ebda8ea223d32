"""Route table for /v2/: repository names contain slashes, so paths are matched by suffix."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import blobs, listings, manifests, uploads
from .base import api_version
from .errors import error_response

Handler = Callable[..., Awaitable[Response]]

_NAME = r"(?P<name>[^?#]+?)"
_TABLE: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(rf"^{_NAME}/manifests/(?P<reference>[^/]+)$"), {
        "GET": manifests.get_manifest, "HEAD": manifests.get_manifest,
        "PUT": manifests.put_manifest, "DELETE": manifests.delete_manifest}),
    (re.compile(rf"^{_NAME}/blobs/uploads/?$"), {"POST": uploads.start_upload}),
    (re.compile(rf"^{_NAME}/blobs/uploads/(?P<upload_id>[^/]+)$"), {
        "GET": uploads.get_upload, "PATCH": uploads.patch_upload,
        "PUT": uploads.put_upload, "DELETE": uploads.cancel_upload}),
    (re.compile(rf"^{_NAME}/blobs/(?P<digest>[^/]+)$"), {
        "GET": blobs.get_blob, "HEAD": blobs.head_blob, "DELETE": blobs.delete_blob}),
    (re.compile(rf"^{_NAME}/tags/list$"), {"GET": listings.list_tags}),
    (re.compile(rf"^{_NAME}/referrers/(?P<digest>[^/]+)$"), {"GET": listings.list_referrers}),
]


async def dispatch(request: Request) -> Response:
    path = request.path_params["path"]
    for pattern, methods in _TABLE:
        m = pattern.match(path)
        if m is None:
            continue
        handler = methods.get(request.method)
        if handler is None:
            return error_response(405, "UNSUPPORTED", f"{request.method} is not supported here",
                                  headers={"Allow": ", ".join(sorted(methods))})
        return await handler(request, **m.groupdict())
    return error_response(404, "NAME_UNKNOWN", "no such endpoint", {"path": f"/v2/{path}"})


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

routes: list[BaseRoute] = [
    Route("/v2/", api_version, methods=["GET", "HEAD"]),
    Route("/v2", api_version, methods=["GET", "HEAD"]),
    Route("/v2/_catalog", listings.catalog, methods=["GET"]),
    Route("/v2/{path:path}", dispatch, methods=ALL_METHODS),
]
