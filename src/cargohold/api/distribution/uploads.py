"""/v2/<name>/blobs/uploads/ — start, mount, monolithic, chunked PATCH, PUT, status, cancel."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from cargohold.core.errors import DigestInvalid, RangeInvalid, SizeInvalid
from cargohold.core.ports.records import UploadRecord

from .context import body_stream, content_length, registry_id, services
from .responses import blob_location, empty, range_header, upload_location

_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


def _owner(request: Request) -> str:
    """Who is uploading: uploads are bound to the identity that started them."""
    caller = request.state.caller
    return f"{caller.kind}:{caller.name}"


def _upload_headers(name: str, record: UploadRecord) -> dict[str, str]:
    return {"Location": upload_location(name, record.id), "Range": range_header(record.size),
            "Docker-Upload-UUID": record.id}


def _committed(name: str, digest: str) -> Response:
    return empty(201, {"Location": blob_location(name, digest), "Docker-Content-Digest": digest})


async def start_upload(request: Request, name: str) -> Response:
    svc, reg = services(request), registry_id(request)
    params = request.query_params
    mount = params.get("mount")
    caller = request.state.caller
    if mount and await svc.blobs.mount(reg, name, mount, params.get("from"), caller.may_read) is not None:
        return _committed(name, mount)
    digest = params.get("digest")
    if digest:
        blob = await svc.uploads.monolithic(reg, name, digest, body_stream(request), content_length(request))
        return _committed(name, blob.digest)
    record = await svc.uploads.start(reg, name, owner=_owner(request))
    return empty(202, _upload_headers(name, record))


def _chunk_bounds(request: Request) -> tuple[int | None, int | None]:
    """(start, length) from Content-Range and Content-Length; they must agree."""
    length = content_length(request)
    raw = request.headers.get("content-range")
    if raw is None:
        return None, length
    m = _CONTENT_RANGE.match(raw.strip())
    if not m:
        raise RangeInvalid(f"malformed Content-Range {raw!r}")
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise RangeInvalid(f"Content-Range {raw!r} ends before it starts")
    if length is not None and length != end - start + 1:
        raise SizeInvalid(f"Content-Range {raw!r} does not match Content-Length {length}")
    return start, end - start + 1


async def patch_upload(request: Request, name: str, upload_id: str) -> Response:
    start, length = _chunk_bounds(request)
    record = await services(request).uploads.append(
        registry_id(request), name, upload_id, body_stream(request), start, length, _owner(request))
    return empty(202, _upload_headers(name, record))


async def put_upload(request: Request, name: str, upload_id: str) -> Response:
    digest = request.query_params.get("digest")
    if not digest:
        raise DigestInvalid("the digest query parameter is required to complete an upload")
    start, length = _chunk_bounds(request)
    blob = await services(request).uploads.complete(
        registry_id(request), name, upload_id, digest, body_stream(request), start, length, _owner(request))
    return _committed(name, blob.digest)


async def get_upload(request: Request, name: str, upload_id: str) -> Response:
    record = await services(request).uploads.status(registry_id(request), name, upload_id, _owner(request))
    return empty(204, _upload_headers(name, record))


async def cancel_upload(request: Request, name: str, upload_id: str) -> Response:
    await services(request).uploads.cancel(registry_id(request), name, upload_id, _owner(request))
    return empty(204)
