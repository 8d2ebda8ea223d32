"""/v2/<name>/blobs/<digest> — HEAD, GET (with Range), DELETE."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .context import registry_id, services
from .errors import API_VERSION_HEADER
from .responses import BlobBodyResponse, empty


def _headers(digest: str) -> dict[str, str]:
    return {**API_VERSION_HEADER, "Docker-Content-Digest": digest, "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream", "ETag": f'"{digest}"',
            "Cache-Control": "max-age=31536000"}


async def head_blob(request: Request, name: str, digest: str) -> Response:
    svc, reg = services(request), registry_id(request)
    size = await svc.blobs.size(reg, name, digest)  # also checks the repository's readEnabled
    return Response(b"", headers={**_headers(digest), "Content-Length": str(size)})


async def get_blob(request: Request, name: str, digest: str) -> Response:
    svc, reg = services(request), registry_id(request)
    read = await svc.blobs.open(reg, name, digest, request.headers.get("range"))  # checks readEnabled
    if read.redirect is not None:
        return RedirectResponse(read.redirect, status_code=307, headers={"Docker-Content-Digest": digest})
    assert read.reader is not None
    headers = _headers(digest)
    if read.range is None:
        return BlobBodyResponse(read.reader, read.size, 200, headers)
    headers["Content-Range"] = f"bytes {read.range.start}-{read.range.end}/{read.size}"
    return BlobBodyResponse(read.reader, read.range.length, 206, headers)


async def delete_blob(request: Request, name: str, digest: str) -> Response:
    await services(request).blobs.delete(registry_id(request), name, digest)
    return empty(202, {"Docker-Content-Digest": digest})
