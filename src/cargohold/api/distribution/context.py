"""What a /v2/ (and /oauth2/) handler needs from the composition root (app.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.requests import Request

from cargohold.core.access import AccessService
from cargohold.core.blobs import BlobService
from cargohold.core.errors import SizeInvalid
from cargohold.core.federation import FederationService
from cargohold.core.listing import ListingService
from cargohold.core.manifests import ManifestService
from cargohold.core.ports.records import Registry
from cargohold.core.registries import RegistryResolver
from cargohold.core.uploads import UploadService


@dataclass(frozen=True, slots=True)
class Services:
    blobs: BlobService
    uploads: UploadService
    manifests: ManifestService
    listing: ListingService
    access: AccessService
    registry: Registry  # the default registry (answers every host no registry claims)
    registries: RegistryResolver
    federation: FederationService  # /oauth2/exchange's federated tokens (caches issuers' keys per worker)


_SCOPE_KEY = "cargohold.registry"


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def registry(request: Request) -> Registry:
    """The registry a request addresses: the one whose login server is its Host, else the default."""
    found: Registry | None = request.scope.get(_SCOPE_KEY)
    if found is None:
        found = services(request).registries.for_host(request.headers.get("host"))
        request.scope[_SCOPE_KEY] = found
    return found


def registry_id(request: Request) -> int:
    """The id of the registry a request addresses (see `registry`)."""
    return registry(request).id


def content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise SizeInvalid("Content-Length is not a non-negative integer")
    return int(raw)


async def body_stream(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk
