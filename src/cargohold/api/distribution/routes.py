"""Route table for /v2/: repository names contain slashes, so paths are matched by suffix."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cargohold.api.throttling import throttle_caller
from cargohold.core.names import validate_repository_name
from cargohold.core.permissions import DELETE, METADATA_READ, PULL, PUSH, SIGN
from cargohold.core.throttling import DELETES, READS, REFERRERS, WRITES

from . import blobs, listings, manifests, uploads
from .authz import authenticate_base, authorize_catalog, authorize_repository
from .base import api_version
from .errors import error_response

Handler = Callable[..., Awaitable[Response]]
READ = (PULL,)
LIST = (METADATA_READ,)  # listing tags and referrers is metadata/read (every role that pulls has it)
WRITE = (PUSH, SIGN)  # SIGN alone may push only signature artifacts (the manifest service checks)
REMOVE = (DELETE,)

_NAME = r"(?P<name>[^?#]+?)"
# path pattern → method → (handler, actions any one of which lets the caller through, throttling bucket)
_TABLE: list[tuple[re.Pattern[str], dict[str, tuple[Handler, tuple[str, ...], str]]]] = [
    (re.compile(rf"^{_NAME}/manifests/(?P<reference>[^/]+)$"), {
        "GET": (manifests.get_manifest, READ, READS), "HEAD": (manifests.get_manifest, READ, READS),
        "PUT": (manifests.put_manifest, WRITE, WRITES), "DELETE": (manifests.delete_manifest, REMOVE, DELETES)}),
    (re.compile(rf"^{_NAME}/blobs/uploads/?$"), {"POST": (uploads.start_upload, WRITE, WRITES)}),
    (re.compile(rf"^{_NAME}/blobs/uploads/(?P<upload_id>[^/]+)$"), {
        "GET": (uploads.get_upload, WRITE, WRITES), "PATCH": (uploads.patch_upload, WRITE, WRITES),
        "PUT": (uploads.put_upload, WRITE, WRITES), "DELETE": (uploads.cancel_upload, WRITE, WRITES)}),
    (re.compile(rf"^{_NAME}/blobs/(?P<digest>[^/]+)$"), {
        "GET": (blobs.get_blob, READ, READS), "HEAD": (blobs.head_blob, READ, READS),
        "DELETE": (blobs.delete_blob, REMOVE, DELETES)}),
    (re.compile(rf"^{_NAME}/tags/list$"), {"GET": (listings.list_tags, LIST, READS)}),
    (re.compile(rf"^{_NAME}/referrers/(?P<digest>[^/]+)$"), {"GET": (listings.list_referrers, LIST, REFERRERS)}),
]


async def dispatch(request: Request) -> Response:
    path = request.path_params["path"]
    for pattern, methods in _TABLE:
        m = pattern.match(path)
        if m is None:
            continue
        entry = methods.get(request.method)
        if entry is None:
            return error_response(405, "UNSUPPORTED", f"{request.method} is not supported here",
                                  headers={"Allow": ", ".join(sorted(methods))})
        handler, actions, bucket = entry
        # A malformed name is a 400 before any challenge (it could not be quoted in one anyway).
        validate_repository_name(m.group("name"))
        caller = await authorize_repository(request, m.group("name"), actions)
        await throttle_caller(request, caller, bucket)
        return await handler(request, **m.groupdict())
    return error_response(404, "NAME_UNKNOWN", "no such endpoint", {"path": f"/v2/{path}"})


async def base(request: Request) -> Response:
    await throttle_caller(request, await authenticate_base(request), READS)
    return await api_version(request)


async def catalog(request: Request) -> Response:
    request.state.caller = caller = await authorize_catalog(request)
    await throttle_caller(request, caller, READS)
    return await listings.catalog(request)


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

routes: list[BaseRoute] = [
    Route("/v2/", base, methods=["GET", "HEAD"]),
    Route("/v2", base, methods=["GET", "HEAD"]),
    Route("/v2/_catalog", catalog, methods=["GET"]),
    Route("/v2/{path:path}", dispatch, methods=ALL_METHODS),
]
