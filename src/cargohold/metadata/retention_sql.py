"""RetentionStore on SQLAlchemy Core: which untagged manifests are due, and their deletion.

The rule is core/retention.py's; this module states it in portable SQL for the scan (which manifests
are candidates) and reads the facts core re-checks it on (`is_due`) before each deletion. Every
subquery is a probe of an existing index: tags (repository_id, digest), manifest_references
(repository_id, child_digest), manifests' primary key (repository_id, digest); the outer scan walks
the registry's repositories (unique (registry_id, name)) and their manifests by primary-key prefix,
in keyset batches.

Deletion is core's unit of work: each candidate is re-checked inside one write transaction. On SQLite
that transaction holds the database write lock (BEGIN IMMEDIATE), so check and delete are atomic. On
PostgreSQL the manifest row is locked first (SELECT ... FOR UPDATE): a concurrent push that tags it
upserts that same row, so either the push commits first — and the facts, read by a new statement
under READ COMMITTED, show its tag and refreshed `updated_at` — or the push waits and then re-inserts
the manifest after the delete.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cargohold.core.ports.generations import REMOVALS, TAGS
from cargohold.core.ports.records import DueFacts, DueManifest, Registry, RegistrySettings
from cargohold.metadata import schema as t
from cargohold.metadata.db import _utc
from cargohold.metadata.sql import SqlMetadataStore


def _due_conditions(m: Any, r: Any, cutoff: datetime) -> list[Any]:
    """The manifest `m` (in repository `r`) is untagged, unreferenced, not a live subject's referrer,
    unlocked, and untagged since `cutoff` or earlier (see core/retention.py for the time bound)."""
    tg, mr = t.tags, t.manifest_references
    subject = t.manifests.alias("subject")
    return [
        m.c.write_enabled == sa.true(),
        m.c.delete_enabled == sa.true(),
        m.c.updated_at <= cutoff,
        r.c.updated_at <= cutoff,
        ~sa.exists().where(tg.c.repository_id == m.c.repository_id, tg.c.digest == m.c.digest),
        ~sa.exists().where(mr.c.repository_id == m.c.repository_id, mr.c.child_digest == m.c.digest,
                           mr.c.child_kind == "manifest"),
        sa.or_(m.c.subject_digest.is_(None),
               ~sa.exists().where(subject.c.repository_id == m.c.repository_id,
                                  subject.c.digest == m.c.subject_digest)),
    ]


class SqlRetentionStore:
    def __init__(self, metadata: SqlMetadataStore) -> None:
        self._m = metadata

    def settings_updated_at(self, registry_id: int) -> datetime | None:
        s = t.registry_settings
        with self._m.read() as conn:
            value = conn.execute(sa.select(s.c.updated_at).where(s.c.registry_id == registry_id)).scalar()
        return _utc(value) if value is not None else None

    def registries_with_retention(self) -> list[tuple[Registry, RegistrySettings]]:
        r, s = t.registries, t.registry_settings
        q = (sa.select(r.c.id, r.c.name, r.c.login_server, s.c.sku, s.c.retention_days)
             .select_from(r.join(s, s.c.registry_id == r.c.id))
             .where(s.c.retention_enabled == sa.true()).order_by(r.c.id))
        with self._m.read() as conn:
            rows = conn.execute(q).all()
        # Only the fields the sweep reads are filled in.
        return [(Registry(row.id, row.name, row.login_server),
                 RegistrySettings(row.id, False, False, row.sku, retention_enabled=True,
                                  retention_days=int(row.retention_days))) for row in rows]

    def due_manifests(self, registry_id: int, cutoff: datetime, after: tuple[int, str] | None,
                      limit: int) -> list[DueManifest]:
        m, r = t.manifests, t.repositories
        q = (sa.select(m.c.repository_id, r.c.name, m.c.digest)
             .select_from(r.join(m, m.c.repository_id == r.c.id))
             .where(r.c.registry_id == registry_id, *_due_conditions(m, r, cutoff))
             .order_by(m.c.repository_id, m.c.digest).limit(limit))
        if after is not None:
            q = q.where(sa.or_(m.c.repository_id > after[0],
                               sa.and_(m.c.repository_id == after[0], m.c.digest > after[1])))
        with self._m.read() as conn:
            return [DueManifest(int(row[0]), row[1], row[2]) for row in conn.execute(q)]

    @contextmanager
    def transaction(self) -> Iterator[SqlRetentionTransaction]:
        with self._m.write() as conn:
            tx = SqlRetentionTransaction(conn)
            yield tx
        if tx.deleted:
            self._m.generations.bump(REMOVALS)
            self._m.generations.bump(TAGS)


class SqlRetentionTransaction:
    """core/ports/transactions.RetentionTransaction on one write transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self.deleted = False

    def lock_manifest(self, repository_id: int, digest: str) -> bool:
        m = t.manifests
        return self._conn.execute(sa.select(m.c.digest).where(
            m.c.repository_id == repository_id, m.c.digest == digest).with_for_update()).first() is not None

    def due_facts(self, registry_id: int, repository_id: int, digest: str) -> DueFacts | None:
        m, r, tg, mr = t.manifests, t.repositories, t.tags, t.manifest_references
        subject = t.manifests.alias("subject")
        q = (sa.select(
            m.c.write_enabled, m.c.delete_enabled, m.c.updated_at, r.c.updated_at,
            sa.exists().where(tg.c.repository_id == m.c.repository_id, tg.c.digest == m.c.digest),
            sa.exists().where(mr.c.repository_id == m.c.repository_id, mr.c.child_digest == m.c.digest,
                              mr.c.child_kind == "manifest"),
            sa.exists().where(subject.c.repository_id == m.c.repository_id, subject.c.digest == m.c.subject_digest))
             .select_from(r.join(m, m.c.repository_id == r.c.id))
             .where(m.c.repository_id == repository_id, m.c.digest == digest, r.c.registry_id == registry_id))
        row = self._conn.execute(q).first()
        if row is None:
            return None
        return DueFacts(bool(row[0]), bool(row[1]), _utc(row[2]), _utc(row[3]), bool(row[4]), bool(row[5]),
                        bool(row[6]))

    def delete_manifest(self, repository_id: int, digest: str) -> None:
        m, mr = t.manifests, t.manifest_references
        self._conn.execute(sa.delete(m).where(m.c.repository_id == repository_id, m.c.digest == digest))
        self._conn.execute(sa.delete(mr).where(mr.c.repository_id == repository_id,
                                               mr.c.manifest_digest == digest))
        self.deleted = True
