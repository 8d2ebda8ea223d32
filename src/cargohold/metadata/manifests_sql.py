"""Manifests and tags in the metadata store: pulls, listings, referrers, and the unit of work in which
core pushes and deletes them (core/ports/transactions.ManifestTransaction; the rules are core's)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cargohold.core.ports.generations import ATTRIBUTES, REMOVALS, TAGS
from cargohold.core.ports.records import (
    Attributes,
    ManifestRecord,
    ManifestRow,
    NewManifest,
    ReferrerRecord,
    RepositoryRow,
    TagRow,
    TagRule,
)
from cargohold.metadata import schema as t
from cargohold.metadata.db import Database, attribute_columns, attributes_of, now
from cargohold.metadata.prepared import Prepared


def _manifest_record(row: Sequence[Any]) -> ManifestRecord:
    return ManifestRecord(row[0], row[1], row[2], bytes(row[3]), bool(row[4]), bool(row[5]), bool(row[6]))


class ManifestsSql(Database):
    def _init_manifests(self) -> None:
        """The statements of pulls and of the push/delete unit of work, built once: executing a prebuilt
        statement skips expression construction and cache-key generation."""
        r, rb, b, m, tg = t.repositories, t.repository_blobs, t.blobs, t.manifests, t.tags
        p = sa.bindparam
        self._q_ref_blobs = (
            sa.select(rb.c.digest, b.c.size)
            .select_from(rb.join(b, sa.and_(b.c.registry_id == rb.c.registry_id, b.c.digest == rb.c.digest)))
            .where(rb.c.repository_id == p("repo_id"), rb.c.digest.in_(p("digests", expanding=True))))
        self._q_ref_manifests = sa.select(m.c.digest, m.c.size).where(
            m.c.repository_id == p("repo_id"), m.c.digest.in_(p("digests", expanding=True)))
        # Pulls carry the readEnabled locks along: still one indexed query per manifest GET/HEAD.
        self._q_manifest_by_tag = (
            sa.select(m.c.digest, m.c.media_type, m.c.size, m.c.content, r.c.read_enabled, tg.c.read_enabled,
                      m.c.read_enabled)
            .select_from(r.join(tg, tg.c.repository_id == r.c.id).join(
                m, sa.and_(m.c.repository_id == tg.c.repository_id, m.c.digest == tg.c.digest)))
            .where(r.c.registry_id == p("registry_id"), r.c.name == p("name"), tg.c.name == p("tag"))
        )
        self._q_manifest_by_digest = (
            sa.select(m.c.digest, m.c.media_type, m.c.size, m.c.content, r.c.read_enabled, sa.true(),
                      m.c.read_enabled).select_from(r.join(m, m.c.repository_id == r.c.id))
            .where(r.c.registry_id == p("registry_id"), r.c.name == p("name"), m.c.digest == p("digest")))
        ins = self.insert(m).values(
            registry_id=p("registry_id"), repository_id=p("repo_id"), digest=p("digest"),
            media_type=p("media_type"), artifact_type=p("artifact_type"), subject_digest=p("subject_digest"),
            annotations=p("annotations", type_=m.c.annotations.type), size=p("size"), content=p("content"),
            created_at=p("ts"), updated_at=p("ts"),
        )
        self._q_manifest_upsert = ins.on_conflict_do_update(
            index_elements=[m.c.repository_id, m.c.digest], set_={"updated_at": ins.excluded.updated_at})
        self._q_references_insert = self.insert(t.manifest_references).on_conflict_do_nothing()
        ins = self.insert(tg).values(registry_id=p("registry_id"), repository_id=p("repo_id"), name=p("tag"),
                                      digest=p("digest"), created_at=p("ts"), updated_at=p("ts"))
        # The guarded move of point_tag: a row left as it was is read back for core to judge.
        self._q_tag_upsert = ins.on_conflict_do_update(
            index_elements=[tg.c.repository_id, tg.c.name],
            set_={"digest": ins.excluded.digest, "updated_at": ins.excluded.updated_at},
            where=sa.and_(tg.c.digest != ins.excluded.digest, tg.c.write_enabled == sa.true()),
        ).returning(tg.c.name)  # a row back = created or moved (rowcount is not reliable for upserts)
        self._q_tag_insert_once = ins.on_conflict_do_nothing().returning(tg.c.name)
        self._q_tag_row = sa.select(tg.c.name, tg.c.digest, *attribute_columns(tg)).where(
            tg.c.repository_id == p("repo_id"), tg.c.name == p("tag")).with_for_update()
        self._q_repo_lock = sa.select(r.c.id, *attribute_columns(r)).where(r.c.id == p("repo_id")).with_for_update()
        self._q_repo_touch_attributes = sa.update(r).where(r.c.id == p("repo_id")).values(
            updated_at=p("ts")).returning(*attribute_columns(r))
        self._q_manifest_row = sa.select(m.c.digest, *attribute_columns(m)).where(
            m.c.repository_id == p("repo_id"), m.c.digest == p("digest")).with_for_update()
        self._q_tags_of_manifest = sa.select(tg.c.name, tg.c.digest, *attribute_columns(tg)).where(
            tg.c.repository_id == p("repo_id"), tg.c.digest == p("digest")).order_by(tg.c.name).with_for_update()
        self._q_all_tags = sa.select(tg.c.name, tg.c.digest, *attribute_columns(tg)).where(
            tg.c.repository_id == p("repo_id")).order_by(tg.c.name).with_for_update()
        self._q_all_manifests = sa.select(m.c.digest, *attribute_columns(m)).where(
            m.c.repository_id == p("repo_id")).order_by(m.c.digest).with_for_update()
        ir = t.tag_immutability_rules
        self._q_tag_rules = sa.select(ir.c.id, ir.c.repository, ir.c.pattern).where(
            ir.c.registry_id == p("registry_id")).order_by(ir.c.created_at, ir.c.id)
        d = self.engine.dialect
        self._p_manifest_by_tag = Prepared(self._q_manifest_by_tag, d)
        self._p_manifest_by_digest = Prepared(self._q_manifest_by_digest, d)

    # --- the unit of work ---------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SqlManifestTransaction]:
        """One write transaction; after it commits, the generations of what it changed are bumped."""
        with self.write() as conn:
            tx = SqlManifestTransaction(self, conn)
            yield tx
        for slot in sorted(tx.bumps):
            self.generations.bump(slot)

    # --- reads --------------------------------------------------------------------------------

    def reference_sizes(
        self, registry_id: int, repository: str, blobs: tuple[str, ...], manifests: tuple[str, ...]
    ) -> dict[str, int]:
        found: dict[str, int] = {}
        with self.read() as conn:
            repo_id = self.repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return found
            for q, digests in ((self._q_ref_blobs, blobs), (self._q_ref_manifests, manifests)):
                if digests:
                    rows = conn.execute(q, {"repo_id": repo_id, "digests": list(digests)})
                    found.update({row[0]: int(row[1]) for row in rows})
        return found

    def repository_attributes(self, registry_id: int, repository: str) -> Attributes | None:
        """A repository's attributes, or None when it does not exist."""
        r = t.repositories
        q = sa.select(*attribute_columns(r)).where(r.c.registry_id == registry_id, r.c.name == repository)
        with self.read() as conn:
            row = conn.execute(q).first()
        return attributes_of(row) if row is not None else None

    def get_manifest_by_tag(self, registry_id: int, repository: str, tag: str) -> ManifestRecord | None:
        with self.fast_read() as cur:
            row = cur.one(self._p_manifest_by_tag, {"registry_id": registry_id, "name": repository, "tag": tag})
        return _manifest_record(row) if row else None

    def get_manifest_by_digest(self, registry_id: int, repository: str, digest: str) -> ManifestRecord | None:
        with self.fast_read() as cur:
            row = cur.one(self._p_manifest_by_digest,
                          {"registry_id": registry_id, "name": repository, "digest": digest})
        return _manifest_record(row) if row else None

    def list_tags(self, registry_id: int, repository: str, last: str | None, limit: int | None) -> list[str] | None:
        tg = t.tags
        with self.read() as conn:
            repo_id = self.repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return None
            q = sa.select(tg.c.name).where(tg.c.repository_id == repo_id, tg.c.list_enabled == sa.true()).order_by(
                tg.c.name)
            if last:
                q = q.where(tg.c.name > last)
            if limit is not None:
                q = q.limit(limit)
            return list(conn.execute(q).scalars())

    def list_referrers(
        self, registry_id: int, repository: str, subject: str, artifact_type: str | None
    ) -> list[ReferrerRecord]:
        m, r = t.manifests, t.repositories
        q = (
            sa.select(m.c.digest, m.c.media_type, m.c.size, m.c.artifact_type, m.c.annotations)
            .select_from(r.join(m, m.c.repository_id == r.c.id))
            .where(r.c.registry_id == registry_id, r.c.name == repository, m.c.subject_digest == subject)
            .order_by(m.c.created_at, m.c.digest)
        )
        if artifact_type is not None:
            q = q.where(m.c.artifact_type == artifact_type)
        with self.read() as conn:
            return [ReferrerRecord(row[0], row[1], row[2], row[3], row[4]) for row in conn.execute(q)]


def _tag_row(row: Sequence[Any]) -> TagRow:
    return TagRow(row[0], row[1], attributes_of(row[2:]))


def _manifest_row(row: Sequence[Any]) -> ManifestRow:
    return ManifestRow(row[0], attributes_of(row[1:]))


class SqlManifestTransaction:
    """core/ports/transactions.ManifestTransaction on one write transaction (a SQLAlchemy connection)."""

    def __init__(self, store: ManifestsSql, conn: sa.Connection) -> None:
        self._s = store
        self._conn = conn
        self._ts: datetime = now()
        self._registry: dict[int, int] = {}  # repository id -> registry id, of the rows read here
        self.bumps: set[int] = set()

    def push_into(self, registry_id: int, repository: str) -> RepositoryRow:
        repo_id = self._s.repository_id(self._conn, registry_id, repository, create=True)
        assert repo_id is not None
        row = self._conn.execute(self._s._q_repo_touch_attributes, {"repo_id": repo_id, "ts": self._ts}).one()
        self._registry[repo_id] = registry_id
        return RepositoryRow(repo_id, repository, attributes_of(row))

    def lock_repository(self, registry_id: int, repository: str) -> RepositoryRow | None:
        repo_id = self._s.repository_id(self._conn, registry_id, repository, create=False)
        if repo_id is None:
            return None
        row = self._conn.execute(self._s._q_repo_lock, {"repo_id": repo_id}).first()
        if row is None:
            return None
        self._registry[repo_id] = registry_id
        return RepositoryRow(repo_id, repository, attributes_of(row[1:]))

    def tag_rules(self, registry_id: int) -> list[TagRule]:
        return [TagRule(row[0], row[1], row[2])
                for row in self._conn.execute(self._s._q_tag_rules, {"registry_id": registry_id})]

    def put_manifest(self, repo: RepositoryRow, manifest: NewManifest) -> None:
        registry_id = self._registry[repo.id]
        self._conn.execute(self._s._q_manifest_upsert, {
            "registry_id": registry_id, "repo_id": repo.id, "digest": manifest.digest,
            "media_type": manifest.media_type, "artifact_type": manifest.artifact_type,
            "subject_digest": manifest.subject_digest, "annotations": manifest.annotations or None,
            "size": len(manifest.content), "content": manifest.content, "ts": self._ts,
        })
        refs = [{"registry_id": registry_id, "repository_id": repo.id, "manifest_digest": manifest.digest,
                 "child_digest": d, "child_kind": kind}
                for kind, digests in (("blob", manifest.blobs), ("manifest", manifest.manifests))
                for d in digests]
        if refs:
            self._conn.execute(self._s._q_references_insert, refs)

    def _tag_params(self, repo: RepositoryRow, tag: str, digest: str) -> dict[str, Any]:
        return {"registry_id": self._registry[repo.id], "repo_id": repo.id, "tag": tag, "digest": digest,
                "ts": self._ts}

    def create_tag(self, repo: RepositoryRow, tag: str, digest: str) -> bool:
        done = self._conn.execute(self._s._q_tag_insert_once, self._tag_params(repo, tag, digest)).first()
        self.bumps.add(TAGS)
        return done is not None

    def point_tag(self, repo: RepositoryRow, tag: str, digest: str) -> bool:
        done = self._conn.execute(self._s._q_tag_upsert, self._tag_params(repo, tag, digest)).first()
        self.bumps.add(TAGS)
        return done is not None

    def tag(self, repo: RepositoryRow, tag: str) -> TagRow | None:
        row = self._conn.execute(self._s._q_tag_row, {"repo_id": repo.id, "tag": tag}).first()
        return _tag_row(row) if row is not None else None

    def manifest(self, repo: RepositoryRow, digest: str) -> ManifestRow | None:
        row = self._conn.execute(self._s._q_manifest_row, {"repo_id": repo.id, "digest": digest}).first()
        return _manifest_row(row) if row is not None else None

    def tags_of(self, repo: RepositoryRow, digest: str) -> list[TagRow]:
        return [_tag_row(r) for r in self._conn.execute(self._s._q_tags_of_manifest,
                                                         {"repo_id": repo.id, "digest": digest})]

    def all_tags(self, repo: RepositoryRow) -> list[TagRow]:
        return [_tag_row(r) for r in self._conn.execute(self._s._q_all_tags, {"repo_id": repo.id})]

    def all_manifests(self, repo: RepositoryRow) -> list[ManifestRow]:
        return [_manifest_row(r) for r in self._conn.execute(self._s._q_all_manifests, {"repo_id": repo.id})]

    def delete_manifest(self, repo: RepositoryRow, digest: str) -> None:
        m, mr, tg = t.manifests, t.manifest_references, t.tags
        conn = self._conn
        conn.execute(sa.delete(m).where(m.c.repository_id == repo.id, m.c.digest == digest))
        conn.execute(sa.delete(tg).where(tg.c.repository_id == repo.id, tg.c.digest == digest))
        conn.execute(sa.delete(mr).where(mr.c.repository_id == repo.id, mr.c.manifest_digest == digest))
        self.bumps.update((REMOVALS, TAGS))

    def delete_tag(self, repo: RepositoryRow, tag: str) -> None:
        tg = t.tags
        self._conn.execute(sa.delete(tg).where(tg.c.repository_id == repo.id, tg.c.name == tag))
        self.bumps.add(TAGS)

    def delete_repository(self, repo: RepositoryRow) -> None:
        r, m, tg, mr, rb = t.repositories, t.manifests, t.tags, t.manifest_references, t.repository_blobs
        for table in (tg, mr, m, rb):
            self._conn.execute(sa.delete(table).where(table.c.repository_id == repo.id))
        self._conn.execute(sa.delete(r).where(r.c.id == repo.id))
        self.bumps.update((REMOVALS, TAGS, ATTRIBUTES))

    def touch(self, repo: RepositoryRow) -> None:
        self._s.touch_repository(self._conn, repo.id)
