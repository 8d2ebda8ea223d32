"""RegistryStore on SQLAlchemy Core, sharing the metadata store's engine and transaction plumbing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cargohold.core.errors import Conflict
from cargohold.core.ports.records import Registry, RegistrySettings
from cargohold.metadata import schema as t
from cargohold.metadata.access_sql import SqlAccessStore
from cargohold.metadata.db import _utc, now
from cargohold.metadata.sql import SqlMetadataStore

# Tables holding a registry's rows, children before parents (deleted in this order).
_REGISTRY_TABLES = (
    "manifest_references", "tags", "manifests", "repository_blobs", "repositories", "blobs", "uploads",
    "login_events", "role_assignments", "federated_credentials", "credentials", "identities", "scope_maps",
    "tag_immutability_rules", "registry_settings",
)


# Names of deleted registries' rows: registry names are letters and digits only, so none starts so.
_TOMBSTONE = "~deleted~"


class SqlRegistryStore:
    def __init__(self, metadata: SqlMetadataStore) -> None:
        self._m = metadata
        self._access = SqlAccessStore(metadata)

    def list_registries(self) -> list[tuple[Registry, datetime]]:
        r = t.registries
        with self._m.read() as conn:
            rows = conn.execute(sa.select(r).where(~r.c.name.startswith(_TOMBSTONE)).order_by(r.c.name)).all()
        return [(Registry(row.id, row.name, row.login_server), _utc(row.created_at)) for row in rows]

    def _check_free(self, conn: sa.Connection, name: str | None, login_server: str | None,
                    except_id: int | None = None) -> None:
        r = t.registries
        if name is not None:
            taken = conn.execute(sa.select(r.c.name).where(sa.func.lower(r.c.name) == name.lower())).first()
            if taken is not None:
                raise Conflict(f"a registry named {taken[0]!r} already exists", {"name": name})
        if login_server is not None:
            q = sa.select(r.c.name).where(sa.func.lower(r.c.login_server) == login_server.lower())
            if except_id is not None:
                q = q.where(r.c.id != except_id)
            taken = conn.execute(q).first()
            if taken is not None:
                raise Conflict(f"login server {login_server!r} belongs to registry {taken[0]!r}",
                               {"loginServer": login_server})

    def create_registry(self, name: str, login_server: str, settings: dict[str, Any]) -> Registry:
        r, s = t.registries, t.registry_settings
        def taken() -> Conflict:  # a concurrent create won the race (PostgreSQL)
            return Conflict(f"registry {name!r} or login server {login_server!r} is taken",
                            {"name": name, "loginServer": login_server})

        with self._m.write(on_conflict=taken) as conn:
            self._check_free(conn, name, login_server)
            registry_id = conn.execute(sa.insert(r).values(name=name, login_server=login_server,
                                                           created_at=now()).returning(r.c.id)).scalar_one()
            conn.execute(sa.insert(s).values(registry_id=registry_id, admin_enabled=False,
                                             anonymous_pull_enabled=False, updated_at=now(), **settings))
        return Registry(int(registry_id), name, login_server)

    def update_registry(self, registry_id: int, login_server: str | None, settings: dict[str, Any]) -> None:
        r, s = t.registries, t.registry_settings
        def taken() -> Conflict:
            return Conflict(f"login server {login_server!r} is taken", {"loginServer": login_server})

        with self._m.write(on_conflict=taken) as conn:
            if login_server is not None:
                self._check_free(conn, None, login_server, except_id=registry_id)
                conn.execute(sa.update(r).where(r.c.id == registry_id).values(login_server=login_server))
            if settings:
                conn.execute(sa.update(s).where(s.c.registry_id == registry_id)
                             .values(**settings, updated_at=now()))

    def delete_registry(self, registry_id: int) -> bool:
        """Every row carrying the registry goes; its `registries` row stays as a tombstone (no name or
        login server a registry could have) so that its id is never given to another registry: SQLite
        would reuse the highest id, and workers cache facts by registry id for a few seconds."""
        r = t.registries
        with self._m.write() as conn:
            for name in _REGISTRY_TABLES:
                table = t.metadata.tables[name]
                conn.execute(sa.delete(table).where(table.c.registry_id == registry_id))
            return conn.execute(sa.update(r).where(r.c.id == registry_id, ~r.c.name.startswith(_TOMBSTONE)).values(
                name=f"{_TOMBSTONE}{registry_id}", login_server=f"{_TOMBSTONE}{registry_id}")).rowcount > 0

    def get_settings(self, registry_id: int) -> RegistrySettings:
        return self._access.get_settings(registry_id)

    def count_tokens(self, registry_id: int) -> int:
        return self._access.count_identities(registry_id, "token")

    def count_user_scope_maps(self, registry_id: int) -> int:
        return self._access.count_user_scope_maps(registry_id)
