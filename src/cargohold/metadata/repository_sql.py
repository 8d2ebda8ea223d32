"""RepositoryStore on SQLAlchemy Core, sharing the metadata store's engine, transactions and caches.

Attribute changes and tag rules run in one write transaction each and bump the generations readers
cache under (ATTRIBUTES) after committing, so every worker sees them at once. Deletes guarded by locks
and write-once rules are core's units of work on the metadata store's `transaction()`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from cargohold.core.errors import Conflict
from cargohold.core.ports.generations import ATTRIBUTES
from cargohold.core.ports.records import TagImmutabilityRule
from cargohold.core.ports.repository_store import ManifestInfo, RepositoryInfo, TagInfo
from cargohold.core.ports.transactions import ManifestTransaction
from cargohold.metadata import schema as t
from cargohold.metadata.db import ATTRIBUTE_NAMES, _utc, attributes_of, now
from cargohold.metadata.sql import SqlMetadataStore


def _attrs(table: sa.Table) -> list[sa.Column[Any]]:
    return [table.c[n] for n in ATTRIBUTE_NAMES]


def _order(order: str, updated: sa.Column[Any], name: sa.Column[Any]) -> list[Any]:
    if order == "time_asc":
        return [updated.asc(), name.asc()]
    if order == "time_desc":
        return [updated.desc(), name.asc()]
    return [name.asc()]


class SqlRepositoryStore:
    def __init__(self, metadata: SqlMetadataStore) -> None:
        self._m = metadata

    def _repo_id(self, conn: sa.Connection, registry_id: int, name: str) -> int | None:
        r = t.repositories
        value = conn.execute(sa.select(r.c.id).where(r.c.registry_id == registry_id, r.c.name == name)).scalar()
        return int(value) if value is not None else None

    # --- repositories -------------------------------------------------------------------------

    def names(self, registry_id: int, last: str | None, limit: int | None) -> list[str]:
        return self._m.list_repositories(registry_id, last, limit)

    def repository(self, registry_id: int, name: str) -> RepositoryInfo | None:
        with self._m.read() as conn:
            return self._repository(conn, registry_id, name)

    def _repository(self, conn: sa.Connection, registry_id: int, name: str) -> RepositoryInfo | None:
        r, m, tg = t.repositories, t.manifests, t.tags
        manifests = sa.select(sa.func.count()).select_from(m).where(m.c.repository_id == r.c.id).scalar_subquery()
        tags = sa.select(sa.func.count()).select_from(tg).where(tg.c.repository_id == r.c.id).scalar_subquery()
        row = conn.execute(sa.select(r.c.name, r.c.created_at, r.c.updated_at, manifests, tags, *_attrs(r))
                           .where(r.c.registry_id == registry_id, r.c.name == name)).first()
        if row is None:
            return None
        return RepositoryInfo(row[0], _utc(row[1]), _utc(row[2]), int(row[3]), int(row[4]), attributes_of(row[5:]))

    def set_repository_attributes(self, registry_id: int, name: str, changes: dict[str, bool]) -> RepositoryInfo | None:
        r = t.repositories
        with self._m.write() as conn:
            if changes:
                done = conn.execute(sa.update(r).where(r.c.registry_id == registry_id, r.c.name == name)
                                    .values(**changes)).rowcount
                if not done:
                    return None
            info = self._repository(conn, registry_id, name)
        self._m.generations.bump(ATTRIBUTES)
        return info

    def transaction(self) -> AbstractContextManager[ManifestTransaction]:
        """Deletes and untags are core's units of work on the metadata store (core/repositories.py)."""
        return self._m.transaction()

    # --- tags ---------------------------------------------------------------------------------

    def _tag_query(self) -> sa.Select[Any]:
        tg = t.tags
        return sa.select(tg.c.name, tg.c.digest, tg.c.created_at, tg.c.updated_at, *_attrs(tg))

    @staticmethod
    def _tag(row: Any) -> TagInfo:
        return TagInfo(row[0], row[1], _utc(row[2]), _utc(row[3]), attributes_of(row[4:]))

    def tags(self, registry_id: int, name: str, order: str, top: int | None) -> list[TagInfo] | None:
        tg = t.tags
        with self._m.read() as conn:
            repo_id = self._repo_id(conn, registry_id, name)
            if repo_id is None:
                return None
            q = (self._tag_query().where(tg.c.repository_id == repo_id, tg.c.list_enabled == sa.true())
                 .order_by(*_order(order, tg.c.updated_at, tg.c.name)))
            if top is not None:
                q = q.limit(top)
            return [self._tag(row) for row in conn.execute(q)]

    def tag(self, registry_id: int, name: str, tag: str) -> TagInfo | None:
        with self._m.read() as conn:
            return self._one_tag(conn, registry_id, name, tag)

    def _one_tag(self, conn: sa.Connection, registry_id: int, name: str, tag: str) -> TagInfo | None:
        tg = t.tags
        repo_id = self._repo_id(conn, registry_id, name)
        if repo_id is None:
            return None
        row = conn.execute(self._tag_query().where(tg.c.repository_id == repo_id, tg.c.name == tag)).first()
        return self._tag(row) if row is not None else None

    def set_tag_attributes(self, registry_id: int, name: str, tag: str, changes: dict[str, bool]) -> TagInfo | None:
        tg = t.tags
        with self._m.write() as conn:
            repo_id = self._repo_id(conn, registry_id, name)
            if repo_id is None:
                return None
            if changes and not conn.execute(sa.update(tg).where(tg.c.repository_id == repo_id, tg.c.name == tag)
                                            .values(**changes)).rowcount:
                return None
            info = self._one_tag(conn, registry_id, name, tag)
        self._m.generations.bump(ATTRIBUTES)
        return info

    # --- manifests ----------------------------------------------------------------------------

    def _manifest_rows(self, conn: sa.Connection, repo_id: int, where: Any, order: str,
                       top: int | None) -> list[ManifestInfo]:
        m, tg = t.manifests, t.tags
        q = (sa.select(m.c.digest, m.c.media_type, m.c.artifact_type, m.c.subject_digest, m.c.size, m.c.created_at,
                       m.c.updated_at, *_attrs(m))
             .where(m.c.repository_id == repo_id, where).order_by(*_order(order, m.c.updated_at, m.c.digest)))
        if top is not None:
            q = q.limit(top)
        rows = conn.execute(q).all()
        if not rows:
            return []
        tags: dict[str, list[str]] = {}
        tq = sa.select(tg.c.digest, tg.c.name).where(tg.c.repository_id == repo_id, tg.c.list_enabled == sa.true())
        if len(rows) == 1:
            tq = tq.where(tg.c.digest == rows[0][0])
        for digest, tag_name in conn.execute(tq.order_by(tg.c.name)):
            tags.setdefault(digest, []).append(tag_name)
        return [ManifestInfo(row[0], row[1], row[2], row[3], int(row[4]), _utc(row[5]), _utc(row[6]),
                             tuple(tags.get(row[0], ())), attributes_of(row[7:])) for row in rows]

    def manifests(self, registry_id: int, name: str, order: str, top: int | None) -> list[ManifestInfo] | None:
        with self._m.read() as conn:
            repo_id = self._repo_id(conn, registry_id, name)
            if repo_id is None:
                return None
            return self._manifest_rows(conn, repo_id, t.manifests.c.list_enabled == sa.true(), order, top)

    def manifest(self, registry_id: int, name: str, digest: str) -> ManifestInfo | None:
        with self._m.read() as conn:
            return self._one_manifest(conn, registry_id, name, digest)

    def _one_manifest(self, conn: sa.Connection, registry_id: int, name: str, digest: str) -> ManifestInfo | None:
        repo_id = self._repo_id(conn, registry_id, name)
        if repo_id is None:
            return None
        found = self._manifest_rows(conn, repo_id, t.manifests.c.digest == digest, "name", None)
        return found[0] if found else None

    def set_manifest_attributes(self, registry_id: int, name: str, digest: str,
                                changes: dict[str, bool]) -> ManifestInfo | None:
        m = t.manifests
        with self._m.write() as conn:
            repo_id = self._repo_id(conn, registry_id, name)
            if repo_id is None:
                return None
            if changes and not conn.execute(sa.update(m).where(m.c.repository_id == repo_id, m.c.digest == digest)
                                            .values(**changes)).rowcount:
                return None
            info = self._one_manifest(conn, registry_id, name, digest)
        self._m.generations.bump(ATTRIBUTES)
        return info

    # --- write-once tag rules -----------------------------------------------------------------

    @staticmethod
    def _rule(row: Any) -> TagImmutabilityRule:
        return TagImmutabilityRule(row.id, row.registry_id, row.repository, row.pattern, row.description,
                                   _utc(row.created_at))

    def tag_rules(self, registry_id: int) -> list[TagImmutabilityRule]:
        ir = t.tag_immutability_rules
        with self._m.read() as conn:
            rows = conn.execute(sa.select(ir).where(ir.c.registry_id == registry_id)
                                .order_by(ir.c.created_at, ir.c.id)).all()
        return [self._rule(row) for row in rows]

    def create_tag_rule(self, rule: TagImmutabilityRule) -> TagImmutabilityRule:
        ir = t.tag_immutability_rules

        def raced() -> Conflict:  # a concurrent create of the same rule committed first (PostgreSQL)
            return Conflict(f"a tag rule already protects pattern {rule.pattern!r} in this scope",
                            {"pattern": rule.pattern, "repository": rule.repository})

        with self._m.write(on_conflict=raced) as conn:
            taken = conn.execute(sa.select(ir.c.id).where(
                ir.c.registry_id == rule.registry_id, ir.c.repository == rule.repository,
                ir.c.pattern == rule.pattern)).scalar()
            if taken is not None:
                raise Conflict(f"tag rule {taken} already protects pattern {rule.pattern!r} in this scope",
                               {"id": taken})
            conn.execute(sa.insert(ir).values(
                id=rule.id, registry_id=rule.registry_id, repository=rule.repository, pattern=rule.pattern,
                description=rule.description, created_at=rule.created_at or now()))
        self._m.generations.bump(ATTRIBUTES)
        return rule

    def delete_tag_rule(self, registry_id: int, rule_id: str) -> bool:
        ir = t.tag_immutability_rules
        with self._m.write() as conn:
            done = conn.execute(sa.delete(ir).where(ir.c.registry_id == registry_id, ir.c.id == rule_id)).rowcount
        if done:
            self._m.generations.bump(ATTRIBUTES)
        return bool(done)
