"""Composition root: build the stores and services, and the ASGI app around them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from cargohold.adapters.http import HttpxOutbound
from cargohold.api.auth.token import routes as auth_routes
from cargohold.api.distribution.context import Services
from cargohold.api.distribution.errors import error_response, handle_registry_error, registry_error_response
from cargohold.api.distribution.routes import routes as distribution_routes
from cargohold.api.health import health_routes
from cargohold.api.management import management_mount
from cargohold.api.management.services import Management
from cargohold.api.space_errors import out_of_space_errors, out_of_space_handler
from cargohold.core.access import AccessService
from cargohold.core.attributes import RepositoryLocks
from cargohold.core.blobs import BlobService
from cargohold.core.blocking import configure as configure_blocking
from cargohold.core.blocking import pool_limit
from cargohold.core.errors import RegistryError
from cargohold.core.federation import FederationService
from cargohold.core.identities import Identities
from cargohold.core.importer import ImportService
from cargohold.core.listing import ListingService
from cargohold.core.login_limits import LoginLimiter, LoginLimits
from cargohold.core.manifests import ManifestService
from cargohold.core.ports.records import RegistrySettings
from cargohold.core.registries import RegistryResolver, RegistryService
from cargohold.core.repositories import RepositoryService
from cargohold.core.retention import RetentionService
from cargohold.core.signing_keys import KeyRing
from cargohold.core.storage_space import StorageSpace
from cargohold.core.upload_caps import UploadCaps
from cargohold.core.uploads import UploadService
from cargohold.core.usage import LimitGuard, QuotaGuard
from cargohold.jobs.retention import retention_job
from cargohold.jobs.scheduler import Scheduler
from cargohold.jobs.upload_expiry import upload_expiry_job
from cargohold.metadata.access_sql import SqlAccessStore
from cargohold.metadata.generations import SharedGenerations
from cargohold.metadata.registry_sql import SqlRegistryStore
from cargohold.metadata.repository_sql import SqlRepositoryStore
from cargohold.metadata.retention_sql import SqlRetentionStore
from cargohold.metadata.space_sql import SqlUnlinkedBlobs, is_disk_full
from cargohold.metadata.sql import SqlMetadataStore, create_engine
from cargohold.metadata.upload_caps_sql import SqlOpenUploads
from cargohold.runtime.shared_buckets import shared_throttle
from cargohold.settings import settings_from_environment
from cargohold.settings_view import SettingsView
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


def _identities(access: AccessService, settings: SettingsView, limits: LimitGuard) -> Identities:
    """Every identity service (one module per concept), dropping `access`'s cached grants on each change."""
    return Identities.build(access.store, allow_insecure_issuers=settings.allow_insecure_issuers,
                            on_change=access.forget, limits=limits.checker)


def create_app(settings: SettingsView | None = None) -> Starlette:
    """Every store and service of a worker, built here once; handlers and jobs receive them. Nothing here
    imports FastAPI or pydantic: the control plane's FastAPI app is built on the first /api request."""
    settings = settings or settings_from_environment()
    # --- stores -------------------------------------------------------------------------------------
    generations = SharedGenerations(settings.data_dir / "generations")
    engine = create_engine(settings.resolved_database_url)
    configure_blocking(pool_limit(engine))  # store calls run on as many threads as the pool has connections
    metadata = SqlMetadataStore(engine, generations)
    registry_store = SqlRegistryStore(metadata)
    access_store = SqlAccessStore(metadata)
    repository_store = SqlRepositoryStore(metadata)
    retention_store = SqlRetentionStore(metadata)
    blob_store = FilesystemBlobStore(settings.storage_dir)
    outbound = HttpxOutbound(settings.outbound_allow)  # every outbound request, behind the SSRF guard
    # --- data plane -----------------------------------------------------------------------------------
    registries = RegistryResolver(registry_store, generations, settings.registry_name)
    locks = RepositoryLocks(metadata, generations)  # readEnabled/writeEnabled, cached per worker
    caps = UploadCaps(SqlOpenUploads(metadata), settings.max_open_uploads_per_repository,
                      settings.max_open_uploads_per_identity)
    space = StorageSpace(blob_store, reserve_bytes=settings.storage_reserve_bytes,
                         reserve_percent=settings.storage_reserve_percent, disk_full=is_disk_full,
                         unlinked=SqlUnlinkedBlobs(metadata))
    space.status()  # logs a warning at start when free space is already below the reserve
    uploads = UploadService(metadata, blob_store, locks, QuotaGuard(registry_store, registries.name_of), caps,
                            space)
    blobs = BlobService(metadata, blob_store, generations, locks)
    manifests = ManifestService(metadata, generations, locks=locks)
    listing = ListingService(metadata)
    login_limiter = LoginLimiter(access_store, LoginLimits(
        settings.login_failures_per_identity_source, settings.login_failures_per_source,
        settings.login_failure_window_seconds)) if settings.login_limits_enabled else None
    access = AccessService(access_store, KeyRing(settings.data_dir / "keys"), login_limiter=login_limiter)
    services = Services(
        blobs=blobs, uploads=uploads, manifests=manifests, listing=listing, access=access,
        registry=registries.default, registries=registries,
        federation=FederationService(access, outbound, allow_insecure_issuers=settings.allow_insecure_issuers),
    )
    # --- control plane (services only; its FastAPI app is lazy) ----------------------------------------
    identities = _identities(access, settings, LimitGuard(registry_store, registries.name_of))
    management = Management(
        registry=registries.default, access=access, identities=identities, registries=registries,
        operator=RegistryService(registry_store, registries, identities, generations,
                                 on_change=lambda: access.forget(None)),
        repositories=RepositoryService(repository_store, space.release_unlinked),
        space=space,
        retention=RetentionService(access_store, retention_store),
        importer=ImportService(metadata, blobs, uploads, manifests, outbound, repository_store),
        listing=listing,
    )
    # --- jobs -------------------------------------------------------------------------------------------
    scheduler = Scheduler([upload_expiry_job(uploads, settings.upload_expiry, settings.job_interval_seconds),
                           retention_job(retention_store, settings.data_dir, settings.job_interval_seconds)])

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
            metadata.close()

    app = Starlette(
        routes=[*health_routes(lambda: metadata.upload_exists(_NO_UPLOAD), space), *auth_routes,
                *distribution_routes, management_mount(management)],
        exception_handlers={
            RegistryError: handle_registry_error,
            HTTPException: _http_error,
            ClientDisconnect: _disconnect,
            **dict.fromkeys(out_of_space_errors(), out_of_space_handler(lambda r: r.app.state.space,
                                                                       registry_error_response, _unexpected)),
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.settings = settings
    app.state.space = space
    app.state.throttle = shared_throttle(settings, lambda rid: _plan(access_store.get_settings(rid)))
    return app
