"""MetadataStore on SQLAlchemy Core: SQLite (WAL) embedded, PostgreSQL for scale-out.

Only portable SQL; the two dialect differences (upsert syntax and SQLite's
write-lock acquisition) are isolated in `insert`/`_begin`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cargohold.core import attributes as locks
from cargohold.core import tag_rules
from cargohold.core.ports.generations import REMOVALS, TAGS, Generations, LocalGenerations
from cargohold.core.ports.records import (
    Attributes,
    ManifestRecord,
    NewManifest,
    ReferrerRecord,
    Registry,
    UploadRecord,
)
from cargohold.core.ports.registry_store import QuotaExceeded
from cargohold.metadata import schema as t
from cargohold.runtime.mapped import reserve_blocks


def now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


ATTRIBUTE_NAMES = ("write_enabled", "delete_enabled", "read_enabled", "list_enabled")


def _attribute_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """A table's changeable attributes, in Attributes' field order."""
    return [table.c[name] for name in ATTRIBUTE_NAMES]


def attributes_of(values: Sequence[Any]) -> Attributes:
    """Attributes from four values in Attributes' field order."""
    return Attributes(*(bool(v) for v in values))


def _manifest_record(row: Sequence[Any]) -> ManifestRecord:
    return ManifestRecord(row[0], row[1], row[2], bytes(row[3]), bool(row[4]), bool(row[5]), bool(row[6]))


def create_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=False)
        database = sa.engine.make_url(url).database
        wal = f"{database}-wal" if database and database != ":memory:" else None

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
            # A full disk (issue 9): sorts and temporary tables stay in memory, so a read never needs
            # a file; the WAL is never truncated after a checkpoint (-1), so the space it has reached
            # is reused by later writes (deletes among them) rather than given back and asked for again.
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute("PRAGMA journal_size_limit=-1")
            cur.execute("PRAGMA schema_version")  # opens the WAL file, which then gets its blocks up front:
            _reserve_wal(wal)                      # a delete on a disk that filled up still has room to commit
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            if conn.get_execution_options().get("cargohold_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


WAL_RESERVE = 8 << 20  # bytes of disk kept allocated for SQLite's WAL (about two autocheckpoints' worth)


def _reserve_wal(path: str | None) -> None:
    if path is None:
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            reserve_blocks(fd, WAL_RESERVE)
        finally:
            os.close(fd)


_REPO_IDS_MAX = 50_000  # (registry, repository name) -> id entries kept per process


class _Prepared:
    """A prebuilt statement compiled once for the engine's dialect and run straight on a DBAPI cursor.

    SQLAlchemy still renders the SQL for the dialect and converts values with each
    type's bind and result processors; only its per-execution machinery (execution
    context, events, result objects) is skipped, which is most of what a one-row
    query on the request path costs. Statements take explicit bindparams only.
    """

    __slots__ = ("_bind", "_named", "_names", "_results", "sql")

    def __init__(self, stmt: Any, dialect: sa.Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        binds = compiled.binds
        implicit = [name for name, bp in binds.items() if not bp.required]
        if implicit:
            raise ValueError(f"prepared statements take explicit bindparams only, not {implicit}")
        self.sql: str = compiled.string
        self._named = not dialect.positional
        self._names = tuple(binds) if self._named else tuple(compiled.positiontup or ())
        self._bind = {name: proc for name, bp in binds.items()
                      if (proc := bp.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        columns = stmt.selected_columns if isinstance(stmt, sa.Select) else ()
        procs = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        self._results = procs if any(p is not None for p in procs) else None

    def params(self, values: Mapping[str, Any]) -> Any:
        bind = self._bind
        if self._named:
            return {n: bind[n](values[n]) if n in bind else values[n] for n in self._names}
        return tuple(bind[n](values[n]) if n in bind else values[n] for n in self._names)

    def row(self, raw: Sequence[Any] | None) -> Sequence[Any] | None:
        if raw is None or self._results is None:
            return raw
        return tuple(v if p is None else p(v) for p, v in zip(self._results, raw, strict=True))


class _Cursor:
    """A DBAPI cursor in one read or write transaction, running _Prepared statements."""

    __slots__ = ("_cur", "learned")

    def __init__(self, cur: Any, learned: list[tuple[tuple[int, str], bytes, int]] | None) -> None:
        self._cur = cur
        self.learned = learned  # repository ids to cache once the write transaction commits

    def one(self, q: _Prepared, values: Mapping[str, Any]) -> Sequence[Any] | None:
        self._cur.execute(q.sql, q.params(values))
        return q.row(self._cur.fetchone())

    def run(self, q: _Prepared, values: Mapping[str, Any]) -> int:
        self._cur.execute(q.sql, q.params(values))
        return int(self._cur.rowcount)


class SqlMetadataStore:
    def __init__(self, engine: sa.Engine, generations: Generations | None = None) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        # Bumped after a commit that changes or removes a fact readers may have cached.
        self.generations = generations or LocalGenerations()
        # Repository ids never change while the repository exists; whatever removes a
        # repository row must bump REMOVALS, which drops these entries in every worker.
        self._repo_ids: dict[tuple[int, str], tuple[bytes, int]] = {}
        self._build_statements()
        self._prepare_statements()

    def _build_statements(self) -> None:
        """The hot statements, built once: executing a prebuilt statement skips expression
        construction and cache-key generation (SQLAlchemy memoizes both per statement object)."""
        r, rb, b, u, m, tg = (t.repositories, t.repository_blobs, t.blobs, t.uploads, t.manifests, t.tags)
        p = sa.bindparam
        self._q_repo_id = sa.select(r.c.id).where(r.c.registry_id == p("registry_id"), r.c.name == p("name"))
        self._q_repo_insert = self.insert(r).values(
            registry_id=p("registry_id"), name=p("name"), created_at=p("ts"), updated_at=p("ts"),
        ).on_conflict_do_nothing()
        self._q_repo_touch = sa.update(r).where(r.c.id == p("repo_id")).values(updated_at=p("ts"))
        self._q_repo_blob_size = (
            sa.select(b.c.size)
            .select_from(r.join(rb, rb.c.repository_id == r.c.id).join(
                b, sa.and_(b.c.registry_id == rb.c.registry_id, b.c.digest == rb.c.digest)))
            .where(r.c.registry_id == p("registry_id"), r.c.name == p("name"), rb.c.digest == p("digest"))
        )
        self._q_blob_size = sa.select(b.c.size).where(b.c.registry_id == p("registry_id"), b.c.digest == p("digest"))
        self._q_blob_insert = self.insert(b).values(
            registry_id=p("registry_id"), digest=p("digest"), size=p("size"), pushed_at=p("ts"),
        ).on_conflict_do_nothing()
        st = t.registry_settings
        # Usage grows with each blob new to the registry, within the hard quota when there is one.
        self._q_usage_add = sa.update(st).where(
            st.c.registry_id == p("registry_id"),
            sa.or_(st.c.storage_quota_bytes.is_(None), st.c.storage_used_bytes + p("size") <= st.c.storage_quota_bytes),
        ).values(storage_used_bytes=st.c.storage_used_bytes + p("added"))
        self._q_usage_get = sa.select(st.c.storage_used_bytes, st.c.storage_quota_bytes).where(
            st.c.registry_id == p("registry_id"))
        self._q_link_insert = self.insert(rb).values(
            registry_id=p("registry_id"), repository_id=p("repo_id"), digest=p("digest"), linked_at=p("ts"),
        ).on_conflict_do_nothing()
        self._q_upload_insert = sa.insert(u)
        self._q_upload_get = sa.select(u).where(
            u.c.id == p("upload_id"), u.c.registry_id == p("registry_id"), u.c.repository == p("name"))
        self._q_upload_advance = sa.update(u).where(u.c.id == p("upload_id"), u.c.size == p("from_size")).values(
            size=p("to_size"), hash_state=p("hash_state"), updated_at=p("ts"))
        self._q_upload_delete = sa.delete(u).where(u.c.id == p("upload_id"))
        self._q_upload_exists = sa.select(u.c.id).where(u.c.id == p("upload_id"))
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
        self._q_manifest_by_digest = self._manifest_query().where(
            r.c.registry_id == p("registry_id"), r.c.name == p("name"), m.c.digest == p("digest"))
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
        # A tag moves only when unlocked; a row left as it was is read back to tell why (put_manifest).
        self._q_tag_upsert = ins.on_conflict_do_update(
            index_elements=[tg.c.repository_id, tg.c.name],
            set_={"digest": ins.excluded.digest, "updated_at": ins.excluded.updated_at},
            where=sa.and_(tg.c.digest != ins.excluded.digest, tg.c.write_enabled == sa.true()),
        ).returning(tg.c.name)  # a row back = created or moved (rowcount is not reliable for upserts)
        self._q_tag_insert_once = ins.on_conflict_do_nothing().returning(tg.c.name)  # write-once: first push wins
        self._q_tag_row = sa.select(tg.c.digest, *_attribute_columns(tg)).where(
            tg.c.repository_id == p("repo_id"), tg.c.name == p("tag")).with_for_update()
        self._q_repo_lock = sa.select(r.c.id).where(r.c.id == p("repo_id")).with_for_update()
        self._q_repo_touch_attributes = sa.update(r).where(r.c.id == p("repo_id")).values(
            updated_at=p("ts")).returning(*_attribute_columns(r))
        self._q_manifest_row = sa.select(*_attribute_columns(m)).where(
            m.c.repository_id == p("repo_id"), m.c.digest == p("digest")).with_for_update()
        self._q_tags_of_manifest = sa.select(tg.c.name, *_attribute_columns(tg)).where(
            tg.c.repository_id == p("repo_id"), tg.c.digest == p("digest")).order_by(tg.c.name).with_for_update()
        ir = t.tag_immutability_rules
        self._q_tag_rules = sa.select(ir.c.id, ir.c.repository, ir.c.pattern).where(
            ir.c.registry_id == p("registry_id")).order_by(ir.c.created_at, ir.c.id)

    def _prepare_statements(self) -> None:
        """The statements of the per-request paths (blob HEAD/GET, uploads, blob commits, manifest reads)."""
        d = self.engine.dialect
        self._p_repo_id = _Prepared(self._q_repo_id, d)
        self._p_repo_insert = _Prepared(self._q_repo_insert, d)
        self._p_repo_blob_size = _Prepared(self._q_repo_blob_size, d)
        self._p_blob_size = _Prepared(self._q_blob_size, d)
        self._p_blob_insert = _Prepared(self._q_blob_insert, d)
        self._p_link_insert = _Prepared(self._q_link_insert, d)
        self._p_usage_add = _Prepared(self._q_usage_add, d)
        self._p_usage_get = _Prepared(self._q_usage_get, d)
        u = t.uploads
        self._p_upload_insert = _Prepared(sa.insert(u).values({c.name: sa.bindparam(c.name) for c in u.c}), d)
        self._p_upload_get = _Prepared(self._q_upload_get, d)
        self._p_upload_advance = _Prepared(self._q_upload_advance, d)
        self._p_upload_delete = _Prepared(self._q_upload_delete, d)
        self._p_upload_exists = _Prepared(self._q_upload_exists, d)
        self._p_manifest_by_tag = _Prepared(self._q_manifest_by_tag, d)
        self._p_manifest_by_digest = _Prepared(self._q_manifest_by_digest, d)

    def close(self) -> None:
        self.engine.dispose()

    # --- plumbing (public: the other SQL stores on this engine share its transactions) -----

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[sa.Connection]:
        """A write transaction. `durable=False` is for bookkeeping a power loss may roll back
        (upload progress): on SQLite its commit skips the WAL fsync; the next durable commit
        syncs it along with everything before it."""
        with self.engine.connect() as conn:
            if self._dialect == "sqlite" and conn.info.get("durable", True) != durable:
                raw: Any = conn.connection.dbapi_connection  # outside any transaction, as the pragma needs
                raw.execute("PRAGMA synchronous=" + ("FULL" if durable else "NORMAL"))
                conn.info["durable"] = durable
            conn.execution_options(cargohold_write=True)
            learned: list[tuple[tuple[int, str], bytes, int]] = []
            conn.info["learned_repo_ids"] = learned
            try:
                with conn.begin():
                    yield conn
            finally:
                del conn.info["learned_repo_ids"]
            # Committed: ids found or created in the transaction are facts now.
            for key, stamp, repo_id in learned:
                self._remember_repo_id(key, stamp, repo_id)

    def read(self) -> sa.Connection:
        return self.engine.connect()

    @contextmanager
    def _fast_read(self) -> Iterator[_Cursor]:
        """A pooled DBAPI connection for _Prepared reads; the pool's reset on return ends the transaction."""
        conn = self.engine.raw_connection()
        try:
            cur = conn.cursor()
            try:
                yield _Cursor(cur, None)
            finally:
                cur.close()
        finally:
            conn.close()

    @contextmanager
    def _fast_write(self, durable: bool = True) -> Iterator[_Cursor]:
        """A write transaction for _Prepared statements, with `write`'s semantics."""
        conn = self.engine.raw_connection()
        learned: list[tuple[tuple[int, str], bytes, int]] = []
        try:
            dbapi: Any = conn.dbapi_connection
            if self._dialect == "sqlite" and conn.info.get("durable", True) != durable:
                dbapi.execute("PRAGMA synchronous=" + ("FULL" if durable else "NORMAL"))
                conn.info["durable"] = durable
            cur = conn.cursor()
            try:
                if self._dialect == "sqlite":
                    cur.execute("BEGIN IMMEDIATE")  # take the write lock now (see create_engine)
                yield _Cursor(cur, learned)
                dbapi.commit()
            except BaseException:
                with contextlib.suppress(Exception):
                    dbapi.rollback()
                raise
            finally:
                cur.close()
        finally:
            conn.close()
        for key, stamp, repo_id in learned:
            self._remember_repo_id(key, stamp, repo_id)

    def insert(self, table: sa.Table) -> Any:
        # The dialect's own insert (for ON CONFLICT); only that dialect's module is loaded.
        module = importlib.import_module(f"sqlalchemy.dialects.{self._dialect}")
        return module.insert(table)

    def _remember_repo_id(self, key: tuple[int, str], stamp: bytes, repo_id: int) -> None:
        ids = self._repo_ids
        if len(ids) >= _REPO_IDS_MAX:
            del ids[next(iter(ids))]
        ids[key] = (stamp, repo_id)

    def _repository_id(self, conn: sa.Connection, registry_id: int, repository: str, create: bool) -> int | None:
        key = (registry_id, repository)
        stamp = self.generations.current(REMOVALS)
        cached = self._repo_ids.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        params = {"registry_id": registry_id, "name": repository}
        found = conn.execute(self._q_repo_id, params).scalar()
        if found is None:
            if not create:
                return None
            conn.execute(self._q_repo_insert, {**params, "ts": now()})
            found = conn.execute(self._q_repo_id, params).scalar_one()
        # Inside a write transaction the id becomes a cached fact only once the transaction commits.
        learned = conn.info.get("learned_repo_ids")
        if learned is not None:
            learned.append((key, stamp, int(found)))
        else:
            self._remember_repo_id(key, stamp, int(found))
        return int(found)

    def _fast_repository_id(self, cur: _Cursor, registry_id: int, repository: str, create: bool) -> int | None:
        """_repository_id for a _Cursor."""
        key = (registry_id, repository)
        stamp = self.generations.current(REMOVALS)
        cached = self._repo_ids.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        params = {"registry_id": registry_id, "name": repository}
        row = cur.one(self._p_repo_id, params)
        if row is None:
            if not create:
                return None
            cur.run(self._p_repo_insert, {**params, "ts": now()})
            row = cur.one(self._p_repo_id, params)
            assert row is not None
        repo_id = int(row[0])
        if cur.learned is not None:
            cur.learned.append((key, stamp, repo_id))
        else:
            self._remember_repo_id(key, stamp, repo_id)
        return repo_id

    def _touch_repository(self, conn: sa.Connection, repo_id: int) -> None:
        conn.execute(self._q_repo_touch, {"repo_id": repo_id, "ts": now()})

    # --- registries -----------------------------------------------------------------------

    def ensure_registry(self, name: str, login_server: str) -> Registry:
        with self.write() as conn:
            conn.execute(
                self.insert(t.registries)
                .values(name=name, login_server=login_server, created_at=now())
                .on_conflict_do_nothing()
            )
            row = conn.execute(sa.select(t.registries).where(t.registries.c.name == name)).one()
        return Registry(row.id, row.name, row.login_server)

    def get_registry(self, name: str) -> Registry | None:
        with self.read() as conn:
            row = conn.execute(sa.select(t.registries).where(t.registries.c.name == name)).first()
        return Registry(row.id, row.name, row.login_server) if row else None

    # --- repositories ---------------------------------------------------------------------

    def repository_exists(self, registry_id: int, repository: str) -> bool:
        with self._fast_read() as cur:
            return self._fast_repository_id(cur, registry_id, repository, create=False) is not None

    def list_repositories(self, registry_id: int, last: str | None, limit: int | None) -> list[str]:
        r = t.repositories
        q = sa.select(r.c.name).where(r.c.registry_id == registry_id, r.c.list_enabled == sa.true()).order_by(
            r.c.name)
        if last:
            q = q.where(r.c.name > last)
        if limit is not None:
            q = q.limit(limit)
        with self.read() as conn:
            return list(conn.execute(q).scalars())

    # --- blobs ----------------------------------------------------------------------------

    def repository_blob_size(self, registry_id: int, repository: str, digest: str) -> int | None:
        with self._fast_read() as cur:
            row = cur.one(self._p_repo_blob_size, {"registry_id": registry_id, "name": repository, "digest": digest})
        return None if row is None else int(row[0])

    def blob_size(self, registry_id: int, digest: str) -> int | None:
        with self._fast_read() as cur:
            row = cur.one(self._p_blob_size, {"registry_id": registry_id, "digest": digest})
        return None if row is None else int(row[0])

    def _link(self, cur: _Cursor, registry_id: int, repository: str, digest: str, ts: datetime) -> None:
        # A blob link is not a repository update (updated_at follows manifests and tags).
        repo_id = self._fast_repository_id(cur, registry_id, repository, create=True)
        cur.run(self._p_link_insert, {"registry_id": registry_id, "repo_id": repo_id, "digest": digest, "ts": ts})

    def add_blob(self, registry_id: int, repository: str, digest: str, size: int,
                 finished_upload: str | None = None) -> None:
        ts = now()
        with self._fast_write() as cur:
            new = cur.run(self._p_blob_insert, {"registry_id": registry_id, "digest": digest, "size": size, "ts": ts})
            # New to the registry: count its bytes once, or refuse (rolling back) past the hard quota.
            if new and not cur.run(self._p_usage_add, {"registry_id": registry_id, "size": size, "added": size}):
                row = cur.one(self._p_usage_get, {"registry_id": registry_id})
                if row is not None and row[1] is not None:
                    raise QuotaExceeded(int(row[0]), int(row[1]), size)
            self._link(cur, registry_id, repository, digest, ts)
            if finished_upload is not None:
                cur.run(self._p_upload_delete, {"upload_id": finished_upload})

    def link_blob(self, registry_id: int, repository: str, digest: str) -> int | None:
        """Never adds to usage: the blob's bytes were counted when the registry first recorded it."""
        with self._fast_write() as cur:
            row = cur.one(self._p_blob_size, {"registry_id": registry_id, "digest": digest})
            if row is None:
                return None
            self._link(cur, registry_id, repository, digest, now())
            return int(row[0])

    def unlink_blob(self, registry_id: int, repository: str, digest: str) -> bool:
        rb = t.repository_blobs
        with self.write() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return False
            removed = conn.execute(
                sa.delete(rb).where(rb.c.repository_id == repo_id, rb.c.digest == digest)).rowcount > 0
        if removed:
            self.generations.bump(REMOVALS)
        return removed

    def repositories_with_blob(self, registry_id: int, digest: str, limit: int) -> list[str]:
        r, rb = t.repositories, t.repository_blobs
        q = (sa.select(r.c.name).select_from(r.join(rb, rb.c.repository_id == r.c.id))
             .where(rb.c.registry_id == registry_id, rb.c.digest == digest).order_by(r.c.name).limit(limit))
        with self.read() as conn:
            return list(conn.execute(q).scalars())

    # --- uploads --------------------------------------------------------------------------

    def create_upload(self, upload: UploadRecord) -> None:
        with self._fast_write(durable=False) as cur:
            cur.run(self._p_upload_insert, {
                "id": upload.id, "registry_id": upload.registry_id, "repository": upload.repository,
                "size": upload.size, "hash_algorithm": upload.hash_algorithm, "hash_state": upload.hash_state,
                "created_at": upload.created_at, "updated_at": upload.updated_at, "owner": upload.owner,
            })

    def get_upload(self, registry_id: int, repository: str, upload_id: str) -> UploadRecord | None:
        with self._fast_read() as cur:
            row = cur.one(self._p_upload_get, {"upload_id": upload_id, "registry_id": registry_id, "name": repository})
        if row is None:
            return None
        uid, reg, repo, size, algorithm, state, created, updated, owner = row
        return UploadRecord(uid, reg, repo, size, algorithm, state, _utc(created), _utc(updated), owner)

    def advance_upload(self, upload_id: str, from_size: int, to_size: int, hash_state: bytes | None) -> bool:
        with self._fast_write(durable=False) as cur:
            return cur.run(self._p_upload_advance, {
                "upload_id": upload_id, "from_size": from_size, "to_size": to_size, "hash_state": hash_state,
                "ts": now(),
            }) == 1

    def delete_upload(self, upload_id: str) -> bool:
        with self._fast_write() as cur:
            return cur.run(self._p_upload_delete, {"upload_id": upload_id}) > 0

    def uploads_idle_since(self, before: datetime) -> list[str]:
        u = t.uploads
        with self.read() as conn:
            return list(conn.execute(sa.select(u.c.id).where(u.c.updated_at < before)).scalars())

    def upload_exists(self, upload_id: str) -> bool:
        with self._fast_read() as cur:
            return cur.one(self._p_upload_exists, {"upload_id": upload_id}) is not None

    # --- manifests and tags ---------------------------------------------------------------

    def reference_sizes(
        self, registry_id: int, repository: str, blobs: tuple[str, ...], manifests: tuple[str, ...]
    ) -> dict[str, int]:
        found: dict[str, int] = {}
        with self.read() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return found
            for q, digests in ((self._q_ref_blobs, blobs), (self._q_ref_manifests, manifests)):
                if digests:
                    rows = conn.execute(q, {"repo_id": repo_id, "digests": list(digests)})
                    found.update({row[0]: int(row[1]) for row in rows})
        return found

    def put_manifest(self, registry_id: int, repository: str, manifest: NewManifest, tag: str | None) -> None:
        """Store a manifest (and point `tag` at it) in one transaction that also checks the repository's
        and the tag's locks and the write-once rules (core/attributes.py, core/tag_rules.py)."""
        ts = now()
        with self.write() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=True)
            assert repo_id is not None
            locks.check_push(repository, self.touch_repository_in(conn, repo_id, ts))
            conn.execute(self._q_manifest_upsert, {
                "registry_id": registry_id, "repo_id": repo_id, "digest": manifest.digest,
                "media_type": manifest.media_type, "artifact_type": manifest.artifact_type,
                "subject_digest": manifest.subject_digest, "annotations": manifest.annotations or None,
                "size": len(manifest.content), "content": manifest.content, "ts": ts,
            })
            refs = [{"registry_id": registry_id, "repository_id": repo_id, "manifest_digest": manifest.digest,
                     "child_digest": d, "child_kind": kind}
                    for kind, digests in (("blob", manifest.blobs), ("manifest", manifest.manifests))
                    for d in digests]
            if refs:
                conn.execute(self._q_references_insert, refs)
            if tag is not None:
                self._put_tag(conn, registry_id, repository, repo_id, tag, manifest.digest, ts)
        if tag is not None:
            self.generations.bump(TAGS)

    def _put_tag(self, conn: sa.Connection, registry_id: int, repository: str, repo_id: int, tag: str,
                 digest: str, ts: datetime) -> None:
        params = {"registry_id": registry_id, "repo_id": repo_id, "tag": tag, "digest": digest, "ts": ts}
        rules = self.tag_rules_in(conn, registry_id)
        protected = tag_rules.protecting(rules, repository, tag)
        if protected is not None:
            # Insert-if-absent, then compare: of racing pushes to a write-once tag exactly one inserts
            # (on PostgreSQL the others wait on the unique key, then find its committed row).
            if conn.execute(self._q_tag_insert_once, params).first() is not None:
                return
            row = conn.execute(self._q_tag_row, params).one()
            tag_rules.check_move([protected], repository, tag, row[0], digest)
            return
        if conn.execute(self._q_tag_upsert, params).first() is not None:
            return  # created or moved
        row = conn.execute(self._q_tag_row, params).one()  # it names this digest already, or is locked
        locks.check_tag_move(repository, tag, attributes_of(row[1:]), row[0], digest)

    def _lock_repository(self, conn: sa.Connection, repo_id: int) -> None:
        """Row locks in one order everywhere (the repository, then its tags and manifests), so a delete and a
        push of the same repository never deadlock on PostgreSQL (a no-op on SQLite: the write lock is held)."""
        conn.execute(self._q_repo_lock, {"repo_id": repo_id})

    def touch_repository_in(self, conn: sa.Connection, repo_id: int, ts: datetime) -> Attributes:
        """Mark a repository updated and return its attributes, in one statement of a write transaction:
        the row stays locked until the transaction ends, so a concurrent attribute change either waits
        for it or is seen by it."""
        row = conn.execute(self._q_repo_touch_attributes, {"repo_id": repo_id, "ts": ts}).one()
        return attributes_of(row)

    def tag_rules_in(self, conn: sa.Connection, registry_id: int) -> list[tag_rules.Rule]:
        return [tag_rules.Rule(row[0], row[1], row[2])
                for row in conn.execute(self._q_tag_rules, {"registry_id": registry_id})]

    def repository_attributes(self, registry_id: int, repository: str) -> Attributes | None:
        """A repository's attributes, or None when it does not exist."""
        r = t.repositories
        q = sa.select(*_attribute_columns(r)).where(r.c.registry_id == registry_id, r.c.name == repository)
        with self.read() as conn:
            row = conn.execute(q).first()
        return attributes_of(row) if row is not None else None

    def _manifest_query(self) -> sa.Select[Any]:
        m, r = t.manifests, t.repositories
        return sa.select(m.c.digest, m.c.media_type, m.c.size, m.c.content, r.c.read_enabled, sa.true(),
                         m.c.read_enabled).select_from(r.join(m, m.c.repository_id == r.c.id))

    def get_manifest_by_tag(self, registry_id: int, repository: str, tag: str) -> ManifestRecord | None:
        with self._fast_read() as cur:
            row = cur.one(self._p_manifest_by_tag, {"registry_id": registry_id, "name": repository, "tag": tag})
        return _manifest_record(row) if row else None

    def get_manifest_by_digest(self, registry_id: int, repository: str, digest: str) -> ManifestRecord | None:
        with self._fast_read() as cur:
            row = cur.one(self._p_manifest_by_digest,
                          {"registry_id": registry_id, "name": repository, "digest": digest})
        return _manifest_record(row) if row else None

    def delete_manifest(self, registry_id: int, repository: str, digest: str) -> bool:
        return self.delete_image(registry_id, repository, digest) is not None

    def delete_image(self, registry_id: int, repository: str, digest: str) -> list[str] | None:
        """Delete a manifest and every tag naming it; the tags deleted, or None when there was no such
        manifest. Refused (Denied) when the manifest or one of those tags is locked or write-once."""
        with self.write() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return None
            self._lock_repository(conn, repo_id)
            tags = self.remove_manifest_in(conn, registry_id, repository, repo_id, digest)
            if tags is None:
                return None
            self._touch_repository(conn, repo_id)
        self.generations.bump(REMOVALS)
        self.generations.bump(TAGS)
        return tags

    def remove_manifest_in(self, conn: sa.Connection, registry_id: int, repository: str, repo_id: int,
                           digest: str) -> list[str] | None:
        """delete_image's work inside a write transaction (the caller bumps REMOVALS and TAGS)."""
        m, mr, tg = t.manifests, t.manifest_references, t.tags
        params = {"repo_id": repo_id, "digest": digest}
        row = conn.execute(self._q_manifest_row, params).first()
        if row is None:
            return None
        tags = [(r[0], attributes_of(r[1:])) for r in conn.execute(self._q_tags_of_manifest, params)]
        locks.check_manifest_delete(repository, digest, attributes_of(row), tags)
        names = [name for name, _ in tags]
        if names:
            tag_rules.check_delete(self.tag_rules_in(conn, registry_id), repository, names)
        conn.execute(sa.delete(m).where(m.c.repository_id == repo_id, m.c.digest == digest))
        conn.execute(sa.delete(tg).where(tg.c.repository_id == repo_id, tg.c.digest == digest))
        conn.execute(sa.delete(mr).where(mr.c.repository_id == repo_id, mr.c.manifest_digest == digest))
        return names

    def delete_tag(self, registry_id: int, repository: str, tag: str) -> bool:
        """Untag; refused (Denied) when the tag is locked or write-once."""
        tg = t.tags
        with self.write() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
            if repo_id is None:
                return False
            self._lock_repository(conn, repo_id)
            row = conn.execute(self._q_tag_row, {"repo_id": repo_id, "tag": tag}).first()
            if row is None:
                return False
            locks.check_tag_delete(repository, tag, attributes_of(row[1:]))
            tag_rules.check_delete(self.tag_rules_in(conn, registry_id), repository, [tag])
            conn.execute(sa.delete(tg).where(tg.c.repository_id == repo_id, tg.c.name == tag))
            self._touch_repository(conn, repo_id)
        self.generations.bump(TAGS)
        return True

    def list_tags(self, registry_id: int, repository: str, last: str | None, limit: int | None) -> list[str] | None:
        tg = t.tags
        with self.read() as conn:
            repo_id = self._repository_id(conn, registry_id, repository, create=False)
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
