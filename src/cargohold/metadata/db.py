"""The metadata database's plumbing: the engine, transactions, the repository-id cache and the one
place a database constraint violation becomes core's Conflict.

Only portable SQL; the two dialect differences (upsert syntax and SQLite's write-lock acquisition)
are isolated in `insert` and `create_engine`'s `_begin`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cargohold.core.errors import Conflict
from cargohold.core.ports.generations import REMOVALS, Generations, LocalGenerations
from cargohold.core.ports.records import Attributes
from cargohold.metadata import schema as t
from cargohold.metadata.prepared import Cursor, LearnedIds, Prepared
from cargohold.runtime.mapped import reserve_blocks


def now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


ATTRIBUTE_NAMES = ("write_enabled", "delete_enabled", "read_enabled", "list_enabled")


def attribute_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """A table's changeable attributes, in Attributes' field order."""
    return [table.c[name] for name in ATTRIBUTE_NAMES]


def attributes_of(values: Sequence[Any]) -> Attributes:
    """Attributes from four values in Attributes' field order."""
    return Attributes(*(bool(v) for v in values))


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


def conflict(orig: BaseException | None) -> Conflict:
    """`orig` (the driver's IntegrityError): a unique or foreign key the database refused, because a
    concurrent change won (the transaction rolled back, nothing of it is written). Stores that can
    name the clash check first and say so; this is the answer for the race their check cannot see."""
    return Conflict("the change conflicts with a concurrent change or a missing or existing row; retry",
                    {"constraint": _constraint(orig)})


def _constraint(orig: BaseException | None) -> str | None:
    diag = getattr(orig, "diag", None)  # psycopg names the constraint
    name = getattr(diag, "constraint_name", None)
    return str(name) if name else None


_REPO_IDS_MAX = 50_000  # (registry, repository name) -> id entries kept per process


class Database:
    """The engine and its transactions, shared by every SQL store on it (the metadata store is built
    on it; the access, registry, repository and retention stores take the metadata store)."""

    def __init__(self, engine: sa.Engine, generations: Generations | None = None) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        # Bumped after a commit that changes or removes a fact readers may have cached.
        self.generations = generations or LocalGenerations()
        # Repository ids never change while the repository exists; whatever removes a
        # repository row must bump REMOVALS, which drops these entries in every worker.
        self._repo_ids: dict[tuple[int, str], tuple[bytes, int]] = {}
        p = sa.bindparam
        r = t.repositories
        self._q_repo_id = sa.select(r.c.id).where(r.c.registry_id == p("registry_id"), r.c.name == p("name"))
        self._q_repo_insert = self.insert(r).values(
            registry_id=p("registry_id"), name=p("name"), created_at=p("ts"), updated_at=p("ts"),
        ).on_conflict_do_nothing()
        self._q_repo_touch = sa.update(r).where(r.c.id == p("repo_id")).values(updated_at=p("ts"))
        d = engine.dialect
        self._p_repo_id = Prepared(self._q_repo_id, d)
        self._p_repo_insert = Prepared(self._q_repo_insert, d)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self, durable: bool = True,
              on_conflict: Callable[[], Conflict] | None = None) -> Iterator[sa.Connection]:
        """A write transaction. `durable=False` is for bookkeeping a power loss may roll back
        (upload progress): on SQLite its commit skips the WAL fsync; the next durable commit
        syncs it along with everything before it. A constraint violation rolls it back and is
        raised as a Conflict (`on_conflict` names it when the caller can)."""
        with self.engine.connect() as conn:
            if self._dialect == "sqlite" and conn.info.get("durable", True) != durable:
                raw: Any = conn.connection.dbapi_connection  # outside any transaction, as the pragma needs
                raw.execute("PRAGMA synchronous=" + ("FULL" if durable else "NORMAL"))
                conn.info["durable"] = durable
            conn.execution_options(cargohold_write=True)
            learned: LearnedIds = []
            conn.info["learned_repo_ids"] = learned
            try:
                with conn.begin():
                    yield conn
            except sa.exc.IntegrityError as e:
                raise (on_conflict() if on_conflict is not None else conflict(e.orig)) from e
            finally:
                del conn.info["learned_repo_ids"]
            # Committed: ids found or created in the transaction are facts now.
            for key, stamp, repo_id in learned:
                self._remember_repo_id(key, stamp, repo_id)

    def read(self) -> sa.Connection:
        return self.engine.connect()

    @contextmanager
    def fast_read(self) -> Iterator[Cursor]:
        """A pooled DBAPI connection for Prepared reads; the pool's reset on return ends the transaction."""
        conn = self.engine.raw_connection()
        try:
            cur = conn.cursor()
            try:
                yield Cursor(cur, None)
            finally:
                cur.close()
        finally:
            conn.close()

    @contextmanager
    def fast_write(self, durable: bool = True) -> Iterator[Cursor]:
        """A write transaction for Prepared statements, with `write`'s semantics."""
        conn = self.engine.raw_connection()
        learned: LearnedIds = []
        try:
            dbapi: Any = conn.dbapi_connection
            if self._dialect == "sqlite" and conn.info.get("durable", True) != durable:
                dbapi.execute("PRAGMA synchronous=" + ("FULL" if durable else "NORMAL"))
                conn.info["durable"] = durable
            cur = conn.cursor()
            try:
                if self._dialect == "sqlite":
                    cur.execute("BEGIN IMMEDIATE")  # take the write lock now (see create_engine)
                yield Cursor(cur, learned)
                dbapi.commit()
            except BaseException as e:
                with contextlib.suppress(Exception):
                    dbapi.rollback()
                if isinstance(e, self.engine.dialect.loaded_dbapi.IntegrityError):
                    raise conflict(e) from e
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

    def _cached_repo_id(self, registry_id: int, repository: str) -> tuple[tuple[int, str], bytes, int | None]:
        """The cache key, the REMOVALS stamp to learn under, and the cached id when still valid."""
        key = (registry_id, repository)
        stamp = self.generations.current(REMOVALS)
        cached = self._repo_ids.get(key)
        return key, stamp, cached[1] if cached is not None and cached[0] == stamp else None

    def repository_id(self, conn: sa.Connection, registry_id: int, repository: str, create: bool) -> int | None:
        key, stamp, cached = self._cached_repo_id(registry_id, repository)
        if cached is not None:
            return cached
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

    def fast_repository_id(self, cur: Cursor, registry_id: int, repository: str, create: bool) -> int | None:
        """repository_id for a Cursor."""
        key, stamp, cached = self._cached_repo_id(registry_id, repository)
        if cached is not None:
            return cached
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

    def touch_repository(self, conn: sa.Connection, repo_id: int) -> None:
        conn.execute(self._q_repo_touch, {"repo_id": repo_id, "ts": now()})
