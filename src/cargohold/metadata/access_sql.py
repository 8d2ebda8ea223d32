"""AccessStore on SQLAlchemy Core, sharing the metadata store's engine and transaction plumbing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cargohold.core.ports.records import (
    Credential,
    FederatedCredential,
    Identity,
    LoginEvent,
    RegistrySettings,
    RoleAssignment,
    ScopeMap,
)
from cargohold.metadata import schema as t
from cargohold.metadata.db import _utc, now
from cargohold.metadata.sql import SqlMetadataStore

LOGIN_KINDS = ("user", "service_principal", "admin", "token")


def _identity(row: Any) -> Identity:
    return Identity(row.id, row.registry_id, row.kind, row.name, row.description, bool(row.enabled),
                    row.scope_map_id, _utc(row.created_at), _utc(row.updated_at))


def _credential(row: Any) -> Credential:
    return Credential(row.identity_id, row.name, row.secret_hash, _utc(row.created_at),
                      _utc(row.expires_at) if row.expires_at else None)


def _federated(row: Any) -> FederatedCredential:
    return FederatedCredential(row.identity_id, row.name, row.issuer, row.subject, row.audience,
                               _utc(row.created_at))


def _assignment(row: Any) -> RoleAssignment:
    return RoleAssignment(row.id, row.registry_id, row.identity_id, row.role, row.scope, _utc(row.created_at))


def _scope_map(row: Any) -> ScopeMap:
    return ScopeMap(row.id, row.registry_id, row.name, row.description, bool(row.system),
                    tuple((str(r[0]), str(r[1])) for r in row.rules), _utc(row.created_at), _utc(row.updated_at))


class SqlAccessStore:
    def __init__(self, metadata: SqlMetadataStore) -> None:
        self._m = metadata

    # --- registry switches ----------------------------------------------------------------

    def get_settings(self, registry_id: int) -> RegistrySettings:
        s = t.registry_settings
        with self._m.read() as conn:
            row = conn.execute(sa.select(s).where(s.c.registry_id == registry_id)).first()
        if row is None:
            return RegistrySettings(registry_id, False, False, "Premium")
        return RegistrySettings(registry_id, bool(row.admin_enabled), bool(row.anonymous_pull_enabled), row.sku,
                                dict(row.limit_overrides) if row.limit_overrides else None,
                                row.storage_quota_bytes, int(row.storage_used_bytes), bool(row.retention_enabled),
                                int(row.retention_days))

    def update_settings(self, registry_id: int, **changes: Any) -> RegistrySettings:
        s = t.registry_settings
        with self._m.write() as conn:
            conn.execute(self._m.insert(s).values(
                registry_id=registry_id, admin_enabled=False, anonymous_pull_enabled=False, sku="Premium",
                updated_at=now()).on_conflict_do_nothing())
            if changes:
                conn.execute(sa.update(s).where(s.c.registry_id == registry_id).values(**changes, updated_at=now()))
        return self.get_settings(registry_id)

    def registry_created_at(self, registry_id: int) -> datetime | None:
        r = t.registries
        with self._m.read() as conn:
            value = conn.execute(sa.select(r.c.created_at).where(r.c.id == registry_id)).scalar_one_or_none()
        return _utc(value) if value is not None else None

    # --- identities -----------------------------------------------------------------------

    def _lock_registry(self, conn: sa.Connection, registry_id: int) -> None:
        """Serialise counted creates in one registry: its settings row, locked (SQLite's write
        transaction already holds the database's write lock)."""
        s = t.registry_settings
        q = sa.select(s.c.registry_id).where(s.c.registry_id == registry_id)
        conn.execute(q.with_for_update() if self._m.engine.dialect.name == "postgresql" else q)

    def _count_identities(self, conn: sa.Connection, registry_id: int, kind: str) -> int:
        i = t.identities
        return int(conn.execute(sa.select(sa.func.count()).select_from(i).where(
            i.c.registry_id == registry_id, i.c.kind == kind)).scalar_one())

    def _count_user_scope_maps(self, conn: sa.Connection, registry_id: int) -> int:
        sm = t.scope_maps
        return int(conn.execute(sa.select(sa.func.count()).select_from(sm).where(
            sm.c.registry_id == registry_id, sm.c.system == sa.false())).scalar_one())

    def count_user_scope_maps(self, registry_id: int) -> int:
        with self._m.read() as conn:
            return self._count_user_scope_maps(conn, registry_id)

    def create_identity(self, identity: Identity, credentials: list[Credential] | None = None,
                        within_limit: Callable[[int], None] | None = None) -> None:
        with self._m.write() as conn:
            if within_limit is not None:
                self._lock_registry(conn, identity.registry_id)
                within_limit(self._count_identities(conn, identity.registry_id, identity.kind))
            conn.execute(sa.insert(t.identities).values(
                id=identity.id, registry_id=identity.registry_id, kind=identity.kind, name=identity.name,
                description=identity.description, enabled=identity.enabled, scope_map_id=identity.scope_map_id,
                created_at=identity.created_at, updated_at=identity.updated_at))
            for c in credentials or []:
                conn.execute(sa.insert(t.credentials).values(
                    identity_id=c.identity_id, name=c.name, registry_id=identity.registry_id,
                    secret_hash=c.secret_hash, created_at=c.created_at, expires_at=c.expires_at))

    def get_identity(self, identity_id: str) -> Identity | None:
        with self._m.read() as conn:
            row = conn.execute(sa.select(t.identities).where(t.identities.c.id == identity_id)).first()
        return _identity(row) if row else None

    def find_identity(self, registry_id: int, kind: str, name: str) -> Identity | None:
        i = t.identities
        with self._m.read() as conn:
            row = conn.execute(sa.select(i).where(
                i.c.registry_id == registry_id, i.c.kind == kind, i.c.name == name)).first()
        return _identity(row) if row else None

    def find_login(self, registry_id: int, name: str) -> list[Identity]:
        i = t.identities
        with self._m.read() as conn:
            rows = conn.execute(sa.select(i).where(
                i.c.registry_id == registry_id, i.c.name == name, i.c.kind.in_(LOGIN_KINDS)))
            return [_identity(r) for r in rows]

    def list_identities(self, registry_id: int, kind: str | None = None) -> list[Identity]:
        i = t.identities
        q = sa.select(i).where(i.c.registry_id == registry_id).order_by(i.c.kind, i.c.name)
        if kind is not None:
            q = q.where(i.c.kind == kind)
        with self._m.read() as conn:
            return [_identity(r) for r in conn.execute(q)]

    def count_identities(self, registry_id: int, kind: str) -> int:
        with self._m.read() as conn:
            return self._count_identities(conn, registry_id, kind)

    def update_identity(self, identity_id: str, **changes: Any) -> Identity | None:
        with self._m.write() as conn:
            conn.execute(sa.update(t.identities).where(t.identities.c.id == identity_id)
                         .values(**changes, updated_at=now()))
        return self.get_identity(identity_id)

    def delete_identity(self, identity_id: str) -> bool:
        with self._m.write() as conn:
            for table in (t.credentials, t.federated_credentials, t.role_assignments):
                conn.execute(sa.delete(table).where(table.c.identity_id == identity_id))
            return conn.execute(sa.delete(t.identities).where(t.identities.c.id == identity_id)).rowcount > 0

    # --- secrets --------------------------------------------------------------------------

    def set_credential(self, registry_id: int, credential: Credential) -> None:
        c = t.credentials
        values = {"secret_hash": credential.secret_hash, "created_at": credential.created_at,
                  "expires_at": credential.expires_at}
        with self._m.write() as conn:
            conn.execute(self._m.insert(c).values(
                identity_id=credential.identity_id, name=credential.name, registry_id=registry_id, **values,
            ).on_conflict_do_update(index_elements=[c.c.identity_id, c.c.name], set_=values))

    def credentials_of(self, identity_id: str) -> list[Credential]:
        c = t.credentials
        with self._m.read() as conn:
            return [_credential(r) for r in conn.execute(
                sa.select(c).where(c.c.identity_id == identity_id).order_by(c.c.name))]

    def delete_credential(self, identity_id: str, name: str) -> bool:
        c = t.credentials
        with self._m.write() as conn:
            return conn.execute(sa.delete(c).where(c.c.identity_id == identity_id, c.c.name == name)).rowcount > 0

    # --- federation -----------------------------------------------------------------------

    def add_federated_credential(self, registry_id: int, credential: FederatedCredential) -> None:
        with self._m.write() as conn:
            conn.execute(sa.insert(t.federated_credentials).values(
                identity_id=credential.identity_id, name=credential.name, registry_id=registry_id,
                issuer=credential.issuer, subject=credential.subject, audience=credential.audience,
                created_at=credential.created_at))

    def federated_credentials_of(self, identity_id: str) -> list[FederatedCredential]:
        f = t.federated_credentials
        with self._m.read() as conn:
            return [_federated(r) for r in conn.execute(
                sa.select(f).where(f.c.identity_id == identity_id).order_by(f.c.name))]

    def find_federated(self, registry_id: int, issuer: str, subject: str) -> list[FederatedCredential]:
        f = t.federated_credentials
        with self._m.read() as conn:
            return [_federated(r) for r in conn.execute(sa.select(f).where(
                f.c.registry_id == registry_id, f.c.issuer == issuer, f.c.subject == subject))]

    def delete_federated_credential(self, identity_id: str, name: str) -> bool:
        f = t.federated_credentials
        with self._m.write() as conn:
            return conn.execute(sa.delete(f).where(f.c.identity_id == identity_id, f.c.name == name)).rowcount > 0

    # --- roles ----------------------------------------------------------------------------

    def add_role_assignment(self, assignment: RoleAssignment) -> None:
        with self._m.write() as conn:
            conn.execute(self._m.insert(t.role_assignments).values(
                id=assignment.id, registry_id=assignment.registry_id, identity_id=assignment.identity_id,
                role=assignment.role, scope=assignment.scope, created_at=assignment.created_at,
            ).on_conflict_do_nothing())

    def role_assignments(self, registry_id: int, identity_id: str | None = None) -> list[RoleAssignment]:
        r = t.role_assignments
        q = sa.select(r).where(r.c.registry_id == registry_id).order_by(r.c.created_at, r.c.id)
        if identity_id is not None:
            q = q.where(r.c.identity_id == identity_id)
        with self._m.read() as conn:
            return [_assignment(row) for row in conn.execute(q)]

    def delete_role_assignment(self, registry_id: int, assignment_id: str) -> bool:
        r = t.role_assignments
        with self._m.write() as conn:
            return conn.execute(sa.delete(r).where(
                r.c.registry_id == registry_id, r.c.id == assignment_id)).rowcount > 0

    # --- scope maps -----------------------------------------------------------------------

    def create_scope_map(self, scope_map: ScopeMap, within_limit: Callable[[int], None] | None = None) -> None:
        with self._m.write() as conn:
            if within_limit is not None:
                self._lock_registry(conn, scope_map.registry_id)
                within_limit(self._count_user_scope_maps(conn, scope_map.registry_id))
            conn.execute(sa.insert(t.scope_maps).values(
                id=scope_map.id, registry_id=scope_map.registry_id, name=scope_map.name,
                description=scope_map.description, system=scope_map.system,
                rules=[list(r) for r in scope_map.rules], created_at=scope_map.created_at,
                updated_at=scope_map.updated_at))

    def get_scope_map(self, scope_map_id: str) -> ScopeMap | None:
        with self._m.read() as conn:
            row = conn.execute(sa.select(t.scope_maps).where(t.scope_maps.c.id == scope_map_id)).first()
        return _scope_map(row) if row else None

    def find_scope_map(self, registry_id: int, name: str) -> ScopeMap | None:
        s = t.scope_maps
        with self._m.read() as conn:
            row = conn.execute(sa.select(s).where(s.c.registry_id == registry_id, s.c.name == name)).first()
        return _scope_map(row) if row else None

    def list_scope_maps(self, registry_id: int) -> list[ScopeMap]:
        s = t.scope_maps
        with self._m.read() as conn:
            return [_scope_map(r) for r in conn.execute(
                sa.select(s).where(s.c.registry_id == registry_id).order_by(s.c.name))]

    def update_scope_map(self, scope_map_id: str, **changes: Any) -> ScopeMap | None:
        if "rules" in changes:
            changes["rules"] = [list(r) for r in changes["rules"]]
        with self._m.write() as conn:
            conn.execute(sa.update(t.scope_maps).where(t.scope_maps.c.id == scope_map_id)
                         .values(**changes, updated_at=now()))
        return self.get_scope_map(scope_map_id)

    def delete_scope_map(self, scope_map_id: str) -> bool:
        with self._m.write() as conn:
            return conn.execute(sa.delete(t.scope_maps).where(t.scope_maps.c.id == scope_map_id)).rowcount > 0

    def scope_map_in_use(self, scope_map_id: str) -> bool:
        i = t.identities
        with self._m.read() as conn:
            return conn.execute(sa.select(i.c.id).where(i.c.scope_map_id == scope_map_id)).first() is not None

    # --- login events ---------------------------------------------------------------------

    def record_login(self, event: LoginEvent) -> None:
        with self._m.write(durable=False) as conn:
            conn.execute(sa.insert(t.login_events).values(
                registry_id=event.registry_id, at=event.at, identity=event.identity[:128],
                identity_kind=event.identity_kind, method=event.method, source=event.source[:64],
                outcome=event.outcome, reason=event.reason[:255]))

    def recent_login_failures(self, registry_id: int, source: str, since: datetime, limit: int,
                              identity: str | None = None) -> list[datetime]:
        e = t.login_events
        q = (sa.select(e.c.at).where(e.c.registry_id == registry_id, e.c.at >= since, e.c.source == source[:64],
                                     e.c.outcome == "failure").order_by(e.c.at.desc()).limit(limit))
        if identity is not None:
            q = q.where(e.c.identity == identity[:128])
        with self._m.read() as conn:
            return [_utc(at) for (at,) in conn.execute(q)]

    def list_logins(
        self, registry_id: int, *, identity: str | None = None, outcome: str | None = None,
        since: datetime | None = None, limit: int = 100,
    ) -> list[LoginEvent]:
        e = t.login_events
        q = sa.select(e).where(e.c.registry_id == registry_id).order_by(e.c.at.desc(), e.c.id.desc()).limit(limit)
        if identity is not None:
            q = q.where(e.c.identity == identity)
        if outcome is not None:
            q = q.where(e.c.outcome == outcome)
        if since is not None:
            q = q.where(e.c.at >= since)
        with self._m.read() as conn:
            return [LoginEvent(r.registry_id, _utc(r.at), r.identity, r.identity_kind, r.method, r.source,
                               r.outcome, r.reason) for r in conn.execute(q)]
