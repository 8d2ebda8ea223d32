"""MetadataStore on SQLAlchemy Core: SQLite (WAL) embedded, PostgreSQL for scale-out.

Only portable SQL; the two dialect differences (upsert syntax and SQLite's
write-lock acquisition) are isolated in `_insert`/`_begin`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cargohold.metadata import schema as t
from cargohold.metadata.generations import REMOVALS, TAGS, Generations, LocalGenerations
from cargohold.metadata.records import ManifestRecord, NewManifest, ReferrerRecord, Registry, UploadRecord


def now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def create_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=False)

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # The driver's own transaction handling would defer the write lock and
            # fail with SQLITE_BUSY on upgrade; we issue BEGIN ourselves (see _begin).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            if conn.get_execution_options().get("cargohold_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class SqlMetadataStore:
    def __init__(self, engine: sa.Engine, generations: Generations | None = None) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        # Bumped after a commit that changes or removes a fact readers may have cached.
        self.generations = generations or LocalGenerations()

    def close(self) -> None:
        self.engine.dispose()

    # --- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[sa.Connection]:
        """A write transaction. `durable=False` is for bookkeeping a power loss may roll back
        (upload progress): on SQLite its commit skips the WAL fsync; the next durable commit
        syncs it along with everything before it."""
        with self.engine.connect() as conn:
            if self._dialect == "sqlite" and conn.info.get("durable", True) != durable:
                raw: Any = conn.connection.dbapi_connection  # outside any transaction, as the pragma needs
                raw.execute("PRAGMA synchronous=" + ("FULL" if durable else "NORMAL"))
                conn.info["durable"] = durable
            conn.execution_options(cargohold_write=True)
            with conn.begin():
                yield conn

    def _read(self) -> sa.Connection:
        return self.engine.connect()

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    def _repository_id(self, conn: sa.Connection, registry_id: int, repository: str, create: bool) -> int | None:
        r = t.repositories
        found = conn.execute(
            sa.select(r.c.id).where(r.c.registry_id == registry_id, r.c.name == repository)
        ).scalar()
        if found is not None or not create:
            return None if found is None else int(found)
        ts = now()
        conn.execute(
            self._insert(r)
            .values(registry_id=registry_id, name=repository, created_at=ts, updated_at=ts)
            .on_conflict_do_nothing()
        )
        return int(conn.execute(
            sa.select(r.c.id).where(r.c.registry_id == registry_id, r.c.name == repository)
        ).scalar_one())

    def _touch_repository(self, conn: sa.Connection, repo_id: int) -> None:
        conn.execute(sa.update(t.repositories).where(t.repositories.c.id == repo_id).values(updated_at=now()))

    # --- registries -----------------------------------------------------------------------

    def ensure_registry(self, name: str, login_server: str) -> Registry:
        with self._write() as conn:
            conn.execute(
                self._insert(t.registries)
                .values(name=name, login_server=login_server, created_at=now())
                .on_conflict_do_nothing()
            )
            row = conn.execute(sa.select(t.registries).where(t.registries.c.name == name)).one()
        return Registry(row.id, row.name, row.login_server)

    def get_registry(self, name: str) -> Registry | None:
        with self._read() as conn:
            row = conn.execute(sa.select(t.registries).where(t.registries.c.name == name)).first()
        return Registry(row.id, row.name, row.login_server) if row else None

    # --- repositories ---------------------------------------------------------------------

    def repository_exists(self, registry_id: int, repository: str) -> bool:
        with self._read() as conn:
            return self._repository_id(conn, registry_id, repository, create=False) is not None

    def list_repositories(self, registry_id: int, last: str | None, limit: int | None) -> list[str]:
        r = t.repositories
        q = sa.select(r.c.name).where(r.c.registry_id == registry_id).order_by(r.c.name)
        if last:
            q = q.where(r.c.name > last)
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            return list(conn.execute(q).scalars())

    # --- blobs ----------------------------------------------------------------------------

    def repository_blob_size(self, registry_id: int, repository: str, digest: str) -> int | None:
        r, rb, b = t.repositories, t.repository_blobs, t.blobs
        q = (
            sa.select(b.c.size)
            .select_from(r.join(rb, rb.c.repository_id == r.c.id).join(
                b, sa.and_(b.c.registry_id == rb.c.registry_id, b.c.digest == rb.c.digest)))
            .where(r.c.registry_id == registry_id, r.c.name == repository, rb.c.digest == digest)
        )
        with self._read() as conn:
            return conn.execute(q).scalar()

    def blob_size(self, registry_id: int, digest: str) -> int | None:
        b = t.blobs
        with self._read() as conn:
            return conn.execute(
                sa.select(b.c.size).where(b.c.registry_id == registry_id, b.c.digest == digest)
            ).scalar()

    def _link(self, conn: sa.Connection, registry_id: int, repository: str, digest: str) -> None:
        repo_id = self._repository_id(conn, registry_id, repository, create=True)
        assert repo_id is not None
        conn.execute(
            self._insert(t.repository_blobs)
            .values(registry_id=registry_id, repository_id=repo_id, digest=digest, linked_at=now())
            .on_conflict_do_nothing()
        )
        self._touch_repository(conn, repo_id)

    def add_blob(self, registry_id: int, repository: str, digest: str, size: int,
                 finished_upload: str | None = None) -> None:
        with self._write() as conn:
            conn.execute(
                self._insert(t.blobs)
                .values(registry_id=registry_id, digest=digest, size=size, pushed_at=now())
                .on_conflict_do_nothing()
            )
            self._link(conn, registry_id, repository, digest)
            if finished_upload is not None:
                conn.execute(sa.delete(t.uploads).where(t.uploads.c.id == finished_upload))

    def link_blob(self, registry_id: int, repository: str, digest: str) -> int | None:
        b = t.blobs
        with self._write() as conn:
            size = conn.execute(
                sa.select(b.c.size).where(b.c.registry_id == registry_id, b.c.digest == digest)
            ).scalar()
            if size is None:
                return None
            self._link(conn, registry_id, repository, digest)
            return int(size)

    def unlink_blob(self, registry_id: int, repository: str, digest: str) -> bool:
        rb = t.repository_blobs
        with self._write() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return False
            removed = conn.execute(
                sa.delete(rb).where(rb.c.repository_id == repo_id, rb.c.digest == digest)).rowcount > 0
        if removed:
            self.generations.bump(REMOVALS)
        return removed

    # --- uploads --------------------------------------------------------------------------

    def create_upload(self, upload: UploadRecord) -> None:
        with self._write(durable=False) as conn:
            conn.execute(sa.insert(t.uploads).values(
                id=upload.id, registry_id=upload.registry_id, repository=upload.repository, size=upload.size,
                hash_algorithm=upload.hash_algorithm, hash_state=upload.hash_state,
                created_at=upload.created_at, updated_at=upload.updated_at,
            ))

    def get_upload(self, registry_id: int, repository: str, upload_id: str) -> UploadRecord | None:
        u = t.uploads
        with self._read() as conn:
            row = conn.execute(sa.select(u).where(
                u.c.id == upload_id, u.c.registry_id == registry_id, u.c.repository == repository
            )).first()
        if row is None:
            return None
        return UploadRecord(row.id, row.registry_id, row.repository, row.size, row.hash_algorithm,
                            row.hash_state, _utc(row.created_at), _utc(row.updated_at))

    def advance_upload(self, upload_id: str, from_size: int, to_size: int, hash_state: bytes | None) -> bool:
        u = t.uploads
        with self._write(durable=False) as conn:
            res = conn.execute(
                sa.update(u).where(u.c.id == upload_id, u.c.size == from_size)
                .values(size=to_size, hash_state=hash_state, updated_at=now())
            )
            return res.rowcount == 1

    def delete_upload(self, upload_id: str) -> bool:
        with self._write() as conn:
            return conn.execute(sa.delete(t.uploads).where(t.uploads.c.id == upload_id)).rowcount > 0

    def uploads_idle_since(self, before: datetime) -> list[str]:
        u = t.uploads
        with self._read() as conn:
            return list(conn.execute(sa.select(u.c.id).where(u.c.updated_at < before)).scalars())

    def upload_exists(self, upload_id: str) -> bool:
        with self._read() as conn:
            return conn.execute(sa.select(t.uploads.c.id).where(t.uploads.c.id == upload_id)).first() is not None

    # --- manifests and tags ---------------------------------------------------------------

    def reference_sizes(
        self, registry_id: int, repository: str, blobs: tuple[str, ...], manifests: tuple[str, ...]
    ) -> dict[str, int]:
        rb, b, m = t.repository_blobs, t.blobs, t.manifests
        found: dict[str, int] = {}
        with self._read() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return found
            if blobs:
                q = (sa.select(rb.c.digest, b.c.size)
                     .select_from(rb.join(b, sa.and_(b.c.registry_id == rb.c.registry_id, b.c.digest == rb.c.digest)))
                     .where(rb.c.repository_id == repo_id, rb.c.digest.in_(blobs)))
                found.update({row[0]: int(row[1]) for row in conn.execute(q)})
            if manifests:
                q = sa.select(m.c.digest, m.c.size).where(m.c.repository_id == repo_id, m.c.digest.in_(manifests))
                found.update({row[0]: int(row[1]) for row in conn.execute(q)})
        return found

    def put_manifest(self, registry_id: int, repository: str, manifest: NewManifest, tag: str | None) -> None:
        m, mr, tg = t.manifests, t.manifest_references, t.tags
        ts = now()
        with self._write() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=True)
            ins = self._insert(m).values(
                registry_id=registry_id, repository_id=repo_id, digest=manifest.digest,
                media_type=manifest.media_type, artifact_type=manifest.artifact_type,
                subject_digest=manifest.subject_digest, annotations=manifest.annotations or None,
                size=len(manifest.content), content=manifest.content, created_at=ts, updated_at=ts,
            )
            conn.execute(ins.on_conflict_do_update(index_elements=[m.c.repository_id, m.c.digest],
                                                   set_={"updated_at": ts}))
            refs = [{"registry_id": registry_id, "repository_id": repo_id, "manifest_digest": manifest.digest,
                     "child_digest": d, "child_kind": kind}
                    for kind, digests in (("blob", manifest.blobs), ("manifest", manifest.manifests))
                    for d in digests]
            if refs:
                conn.execute(self._insert(mr).on_conflict_do_nothing(), refs)
            if tag is not None:
                ins = self._insert(tg).values(registry_id=registry_id, repository_id=repo_id, name=tag,
                                              digest=manifest.digest, created_at=ts, updated_at=ts)
                conn.execute(ins.on_conflict_do_update(
                    index_elements=[tg.c.repository_id, tg.c.name],
                    set_={"digest": manifest.digest, "updated_at": ts},
                    where=tg.c.digest != manifest.digest,
                ))
            self._touch_repository(conn, repo_id)  # type: ignore[arg-type]
        if tag is not None:
            self.generations.bump(TAGS)

    def _manifest_query(self) -> sa.Select[Any]:
        m, r = t.manifests, t.repositories
        return sa.select(m.c.digest, m.c.media_type, m.c.size, m.c.content).select_from(
            r.join(m, m.c.repository_id == r.c.id))

    def get_manifest_by_tag(self, registry_id: int, repository: str, tag: str) -> ManifestRecord | None:
        m, r, tg = t.manifests, t.repositories, t.tags
        q = (
            sa.select(m.c.digest, m.c.media_type, m.c.size, m.c.content)
            .select_from(r.join(tg, tg.c.repository_id == r.c.id).join(
                m, sa.and_(m.c.repository_id == tg.c.repository_id, m.c.digest == tg.c.digest)))
            .where(r.c.registry_id == registry_id, r.c.name == repository, tg.c.name == tag)
        )
        with self._read() as conn:
            row = conn.execute(q).first()
        return ManifestRecord(row[0], row[1], row[2], row[3]) if row else None

    def get_manifest_by_digest(self, registry_id: int, repository: str, digest: str) -> ManifestRecord | None:
        m, r = t.manifests, t.repositories
        q = self._manifest_query().where(r.c.registry_id == registry_id, r.c.name == repository,
                                         m.c.digest == digest)
        with self._read() as conn:
            row = conn.execute(q).first()
        return ManifestRecord(row[0], row[1], row[2], row[3]) if row else None

    def delete_manifest(self, registry_id: int, repository: str, digest: str) -> bool:
        m, mr, tg = t.manifests, t.manifest_references, t.tags
        with self._write() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return False
            deleted = conn.execute(sa.delete(m).where(m.c.repository_id == repo_id, m.c.digest == digest)).rowcount
            if not deleted:
                return False
            conn.execute(sa.delete(tg).where(tg.c.repository_id == repo_id, tg.c.digest == digest))
            conn.execute(sa.delete(mr).where(mr.c.repository_id == repo_id, mr.c.manifest_digest == digest))
            self._touch_repository(conn, repo_id)
        self.generations.bump(REMOVALS)
        self.generations.bump(TAGS)
        return True

    def delete_tag(self, registry_id: int, repository: str, tag: str) -> bool:
        tg = t.tags
        with self._write() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return False
            deleted = conn.execute(sa.delete(tg).where(tg.c.repository_id == repo_id, tg.c.name == tag)).rowcount
            if deleted:
                self._touch_repository(conn, repo_id)
        if deleted:
            self.generations.bump(TAGS)
        return bool(deleted)

    def list_tags(self, registry_id: int, repository: str, last: str | None, limit: int | None) -> list[str] | None:
        tg = t.tags
        with self._read() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return None
            q = sa.select(tg.c.name).where(tg.c.repository_id == repo_id).order_by(tg.c.name)
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
        with self._read() as conn:
            return [ReferrerRecord(row[0], row[1], row[2], row[3], row[4]) for row in conn.execute(q)]
