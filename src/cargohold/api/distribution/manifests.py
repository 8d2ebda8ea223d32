"""/v2/<name>/manifests/<reference> — HEAD, GET, PUT, DELETE."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cargohold.core.errors import TooLarge
from cargohold.core.manifest_format import MAX_MANIFEST_BYTES

from .context import content_length, registry_id, services
from .errors import API_VERSION_HEADER
from .responses import empty


async def _read_manifest_body(request: Request) -> bytes:
    declared = content_length(request)
    if declared is not None and declared > MAX_MANIFEST_BYTES:
        raise TooLarge(f"manifest is larger than the {MAX_MANIFEST_BYTES} byte limit", {"size": declared})
    parts: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_MANIFEST_BYTES:
            raise TooLarge(f"manifest is larger than the {MAX_MANIFEST_BYTES} byte limit")
        parts.append(chunk)
    return b"".join(parts)


async def get_manifest(request: Request, name: str, reference: str) -> Response:
    found = await services(request).manifests.get(registry_id(request), name, reference)
    headers = {**API_VERSION_HEADER, "Docker-Content-Digest": found.digest, "ETag": f'"{found.digest}"'}
    if request.method == "HEAD":
        return Response(b"", media_type=found.media_type,
                        headers={**headers, "Content-Length": str(found.size)})
    return Response(found.content, media_type=found.media_type, headers=headers)


async def put_manifest(request: Request, name: str, reference: str) -> Response:
    body = await _read_manifest_body(request)
    pushed = await services(request).manifests.put(
        registry_id(request), name, reference, body, request.headers.get("content-type"), request.state.caller)
    headers = {"Location": f"/v2/{name}/manifests/{pushed.digest}", "Docker-Content-Digest": pushed.digest}
    if pushed.subject:
        headers["OCI-Subject"] = pushed.subject
    return empty(201, headers)


async def delete_manifest(request: Request, name: str, reference: str) -> Response:
    await services(request).manifests.delete(registry_id(request), name, reference)
    return empty(202)
