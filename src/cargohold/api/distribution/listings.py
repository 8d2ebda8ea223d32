"""Listings: /v2/<name>/tags/list, /v2/_catalog, /v2/<name>/referrers/<digest>."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cargohold.core.listing import page_size
from cargohold.core.manifest_format import OCI_INDEX

from .context import registry_id, services
from .errors import API_VERSION_HEADER
from .responses import link_next


async def list_tags(request: Request, name: str) -> Response:
    n, last = request.query_params.get("n"), request.query_params.get("last")
    page = await services(request).listing.tags(registry_id(request), name, n, last)
    headers = dict(API_VERSION_HEADER)
    if page.next_last is not None:
        headers.update(link_next(f"/v2/{name}/tags/list", page_size(n), page.next_last))
    return JSONResponse({"name": name, "tags": page.items}, headers=headers)


async def catalog(request: Request) -> Response:
    n, last = request.query_params.get("n"), request.query_params.get("last")
    page = await services(request).listing.catalog(registry_id(request), request.state.caller, page_size(n), last)
    headers = dict(API_VERSION_HEADER)
    if page.next_last is not None:
        headers.update(link_next("/v2/_catalog", page_size(n), page.next_last))
    return JSONResponse({"repositories": page.items}, headers=headers)


async def list_referrers(request: Request, name: str, digest: str) -> Response:
    artifact_type = request.query_params.get("artifactType") or None
    index = await services(request).listing.referrers(registry_id(request), name, digest, artifact_type)
    headers = dict(API_VERSION_HEADER)
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    return JSONResponse(index, media_type=OCI_INDEX, headers=headers)
