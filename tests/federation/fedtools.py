"""Helpers for the federation tests: the registry's database opened from the test process."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cargohold.core.access import AccessService
from cargohold.core.identities import Identities
from cargohold.core.ports.records import LoginEvent, Registry, RoleAssignment
from cargohold.metadata.access_sql import SqlAccessStore
from cargohold.metadata.sql import SqlMetadataStore
from support import RegistryServer


@dataclass
class RegistryDb:
    """The metadata database a registry uses, opened from the test process."""

    meta: SqlMetadataStore
    registry: Registry
    store: SqlAccessStore = field(init=False)
    identities: Identities = field(init=False)

    def __post_init__(self) -> None:
        self.store = SqlAccessStore(self.meta)
        self.identities = Identities.build(self.store, allow_insecure_issuers=True)

    def assign(self, identity_id: str, role: str, scope: str = "") -> None:
        self.store.add_role_assignment(RoleAssignment(str(uuid.uuid4()), self.registry.id, identity_id, role, scope,
                                                      datetime.now(UTC)))

    def logins(self, **filters: object) -> list[LoginEvent]:
        """Newest first."""
        return self.store.list_logins(self.registry.id, limit=1000, **filters)  # type: ignore[arg-type]

    def close(self) -> None:
        self.meta.close()


@dataclass
class FedServer:
    server: RegistryServer
    password: str  # the owner's
    db: RegistryDb

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host


@dataclass
class Local:
    """The federation pieces in process, on a database of their own."""

    db: RegistryDb
    access: AccessService
