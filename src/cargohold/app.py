"""Composition root: build the stores and services, and the ASGI app around them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from cargohold.api.auth.token import routes as auth_routes
from cargohold.api.distribution.context import Services
from cargohold.api.distribution.errors import error_response, handle_registry_error, registry_error_response
from cargohold.api.distribution.routes import routes as distribution_routes
from cargohold.api.health import health_routes
from cargohold.api.management import management_mount
from cargohold.api.space_errors import OUT_OF_SPACE_ERRORS, out_of_space_handler
from cargohold.core.access import AccessService
from cargohold.core.blobs import BlobService
from cargohold.core.errors import RegistryError
from cargohold.core.listing import ListingService
from cargohold.core.manifests import ManifestService
from cargohold.core.ports.records import RegistrySettings
from cargohold.core.registries import RegistryResolver
from cargohold.core.signing_keys import KeyRing
from cargohold.core.storage_space import StorageSpace
from cargohold.core.uploads import UploadService
from cargohold.core.usage import QuotaGuard
from cargohold.jobs.retention import retention_job
from cargohold.jobs.scheduler import Scheduler
from cargohold.jobs.upload_expiry import upload_expiry_job
from cargohold.metadata.access_sql import SqlAccessStore
from cargohold.metadata.generations import SharedGenerations
from cargohold.metadata.registry_sql import SqlRegistryStore
from cargohold.metadata.space_sql import SqlUnlinkedBlobs, is_disk_full
from cargohold.metadata.sql import SqlMetadataStore, create_engine
from cargohold.runtime.shared_buckets import shared_throttle
from cargohold.settings_view import SettingsView, settings_from_environment
from cargohold.storage.filesystem import FilesystemBlobStore

log = logging.getLogger("cargohold")
_NO_UPLOAD = "00000000-0000-0000-0000-000000000000"  # /readyz's database probe: one indexed lookup


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NAME_UNKNOWN", 405: "UNSUPPORTED"}.get(exc.status_code, "UNSUPPORTED")
    return error_response(exc.status_code, code, str(exc.detail))


async def _disconnect(_request: Request, _exc: Exception) -> Response:
    return error_response(400, "BLOB_UPLOAD_INVALID", "client disconnected before the body was complete")


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "UNKNOWN", "internal error; see the registry log")


def _plan(registry: RegistrySettings) -> tuple[str, dict[str, int] | None]:
    """A registry's SKU and limit overrides, as the throttle reads them (rate overrides included)."""
    return registry.sku, registry.limit_overrides


def create_app(settings: SettingsView | None = None) -> Starlette:
    settings = settings or settings_from_environment()
    generations = SharedGenerations(settings.data_dir / "generations")
    metadata = SqlMetadataStore(create_engine(settings.resolved_database_url), generations)
    registry_store = SqlRegistryStore(metadata)
    registries = RegistryResolver(registry_store, generations, settings.registry_name)
    registry = registries.default
    blob_store = FilesystemBlobStore(settings.storage_dir)
    space = StorageSpace(blob_store, reserve_bytes=settings.storage_reserve_bytes,
                         reserve_percent=settings.storage_reserve_percent, disk_full=is_disk_full,
                         unlinked=SqlUnlinkedBlobs(metadata))
    space.status()  # logs a warning at start when free space is already below the reserve
    uploads = UploadService(metadata, blob_store, QuotaGuard(registry_store, registries.name_of), space)
    services = Services(
        blobs=BlobService(metadata, blob_store, generations),
        uploads=uploads,
        manifests=ManifestService(metadata, generations),
        listing=ListingService(metadata),
        access=AccessService(SqlAccessStore(metadata), KeyRing(settings.data_dir / "keys")),
        registry=registry,
        registries=registries,
    )
    scheduler = Scheduler([upload_expiry_job(uploads, settings.upload_expiry, settings.job_interval_seconds),
                           retention_job(metadata, settings.data_dir, settings.job_interval_seconds)])

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
            metadata.close()

    app = Starlette(
        routes=[*health_routes(lambda: metadata.upload_exists(_NO_UPLOAD), space), *auth_routes, *distribution_routes,
                management_mount(services.registry, services.access,
                                 allow_insecure_issuers=settings.allow_insecure_issuers,
                                 registries=registries, registry_store=registry_store, generations=generations,
                                 metadata=metadata, services=services)],
        exception_handlers={
            RegistryError: handle_registry_error,
            HTTPException: _http_error,
            ClientDisconnect: _disconnect,
            **dict.fromkeys(OUT_OF_SPACE_ERRORS, out_of_space_handler(lambda r: r.app.state.space,
                                                                       registry_error_response, _unexpected)),
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.settings = settings
    app.state.space = space
    access_store = services.access.store
    app.state.throttle = shared_throttle(settings, lambda rid: _plan(access_store.get_settings(rid)))
    return app
