"""The control-plane REST API (docs/management-api.md), a FastAPI app mounted at /api.

Handlers are thin: parse the request, call IdentityService (core), render the result. Every
rule lives in core; every refusal is `{"errors":[{code, message, detail}]}`. The app (and
FastAPI itself) is built on the first /api request, so a worker that only serves /v2/ never
loads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from cargohold.core.access import AccessService
from cargohold.core.identities import IdentityService
from cargohold.core.ports.generations import Generations
from cargohold.core.ports.records import Registry
from cargohold.core.ports.registry_store import RegistryStore
from cargohold.core.registries import RegistryResolver

if TYPE_CHECKING:
    from cargohold.api.distribution.context import Services
    from cargohold.metadata.sql import SqlMetadataStore


class _Lazy:
    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)


def management_api(registry: Registry, access: AccessService, *, allow_insecure_issuers: bool = False,
                   registries: RegistryResolver, registry_store: RegistryStore, generations: Generations,
                   metadata: SqlMetadataStore, services: Services | None = None) -> ASGIApp:
    """The ASGI app to mount at /api. Changes made through it drop `access`'s cached grants and passwords
    in this worker at once; other workers notice within AccessService's cache lifetime (5 s).
    `allow_insecure_issuers`: federated credentials may name http://127.0.0.1 or localhost issuers.
    Each request addresses the registry its Host (or X-Cargohold-Registry header) names."""

    def build() -> ASGIApp:
        from cargohold.core.registries import RegistryService
        from cargohold.core.repositories import RepositoryService
        from cargohold.core.retention import RetentionService
        from cargohold.core.usage import LimitGuard
        from cargohold.metadata.repository_sql import SqlRepositoryStore
        from cargohold.metadata.retention_sql import SqlRetentionStore

        from .app import create_management_app
        from .deps import Management

        service = IdentityService(access.store, allow_insecure_issuers=allow_insecure_issuers)
        service.on_change = access.forget
        service.limits = LimitGuard(registry_store, registries.name_of).checker
        operator = RegistryService(registry_store, registries, service, generations,
                                   on_change=lambda: access.forget(None))
        space = services.uploads.space if services is not None else None
        repositories = RepositoryService(SqlRepositoryStore(metadata), space.release_unlinked if space else None)
        retention = RetentionService(access.store, SqlRetentionStore(metadata))
        return create_management_app(Management(registry, access, service, registries, operator, repositories,
                                                retention, services))

    return _Lazy(build)


class _ApiMount(Mount):
    """Mount("/api") whose pattern also takes paths holding a newline (%0A), so that every path below /api
    gets this API's own 404 rather than the data plane's."""

    def __init__(self, path: str, app: ASGIApp) -> None:
        super().__init__(path, app=app)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


def management_mount(registry: Registry, access: AccessService, *, allow_insecure_issuers: bool = False,
                     registries: RegistryResolver, registry_store: RegistryStore, generations: Generations,
                     metadata: SqlMetadataStore, services: Services | None = None) -> Mount:
    """The route serving the control plane at /api (see `management_api`)."""
    return _ApiMount("/api", management_api(registry, access, allow_insecure_issuers=allow_insecure_issuers,
                                            registries=registries, registry_store=registry_store,
                                            generations=generations, metadata=metadata, services=services))
