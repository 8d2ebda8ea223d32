"""Blobs in the metadata store: sizes for HEAD/GET, the blob commit's unit of work, links and unlinks.

Storage is counted once per distinct blob of a registry: `BlobTransaction.add_usage` runs only for a
blob new to the registry; core (core/usage.record_blob) applies the hard quota to what it returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa

from cargohold.core.ports.generations import REMOVALS
from cargohold.metadata import schema as t
from cargohold.metadata.db import Database, now
from cargohold.metadata.prepared import Cursor, Prepared


class BlobsSql(Database):
    def _init_blobs(self) -> None:
        r, rb, b, st, u = t.repositories, t.repository_blobs, t.blobs, t.registry_settings, t.uploads
        p = sa.bindparam
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
        # Usage grows with each blob new to the registry; the row stays locked to the commit (the quota
        # rule reads what this returns).
        self._q_usage_add = sa.update(st).where(st.c.registry_id == p("reg")).values(
            storage_used_bytes=st.c.storage_used_bytes + p("size")).returning(
            st.c.storage_used_bytes, st.c.storage_quota_bytes)
        self._q_link_insert = self.insert(rb).values(
            registry_id=p("registry_id"), repository_id=p("repo_id"), digest=p("digest"), linked_at=p("ts"),
        ).on_conflict_do_nothing()
        self._q_upload_delete = sa.delete(u).where(u.c.id == p("upload_id"))
        d = self.engine.dialect
        self._p_repo_blob_size = Prepared(self._q_repo_blob_size, d)
        self._p_blob_size = Prepared(self._q_blob_size, d)
        self._p_blob_insert = Prepared(self._q_blob_insert, d)
        self._p_link_insert = Prepared(self._q_link_insert, d)
        self._p_usage_add = Prepared(self._q_usage_add, d)
        self._p_upload_delete = Prepared(self._q_upload_delete, d)

    def repository_blob_size(self, registry_id: int, repository: str, digest: str) -> int | None:
        with self.fast_read() as cur:
            row = cur.one(self._p_repo_blob_size, {"registry_id": registry_id, "name": repository, "digest": digest})
        return None if row is None else int(row[0])

    def blob_size(self, registry_id: int, digest: str) -> int | None:
        with self.fast_read() as cur:
            row = cur.one(self._p_blob_size, {"registry_id": registry_id, "digest": digest})
        return None if row is None else int(row[0])

    def link(self, cur: Cursor, registry_id: int, repository: str, digest: str, ts: datetime) -> None:
        # A blob link is not a repository update (updated_at follows manifests and tags).
        repo_id = self.fast_repository_id(cur, registry_id, repository, create=True)
        cur.run(self._p_link_insert, {"registry_id": registry_id, "repo_id": repo_id, "digest": digest, "ts": ts})

    @contextmanager
    def blob_transaction(self) -> Iterator[SqlBlobTransaction]:
        with self.fast_write() as cur:
            yield SqlBlobTransaction(self, cur)

    def link_blob(self, registry_id: int, repository: str, digest: str) -> int | None:
        """Never adds to usage: the blob's bytes were counted when the registry first recorded it."""
        with self.fast_write() as cur:
            row = cur.one(self._p_blob_size, {"registry_id": registry_id, "digest": digest})
            if row is None:
                return None
            self.link(cur, registry_id, repository, digest, now())
            return int(row[0])

    def unlink_blob(self, registry_id: int, repository: str, digest: str) -> bool:
        rb = t.repository_blobs
        with self.write() as conn:
            repo_id = self.repository_id(conn, registry_id, repository, create=False)
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


class SqlBlobTransaction:
    """core/ports/transactions.BlobTransaction on one prepared-statement write transaction."""

    __slots__ = ("_cur", "_s", "_ts")

    def __init__(self, store: BlobsSql, cur: Cursor) -> None:
        self._s = store
        self._cur = cur
        self._ts = now()

    def insert_blob(self, registry_id: int, digest: str, size: int) -> bool:
        return self._cur.run(self._s._p_blob_insert,
                             {"registry_id": registry_id, "digest": digest, "size": size, "ts": self._ts}) > 0

    def add_usage(self, registry_id: int, size: int) -> tuple[int, int | None] | None:
        row = self._cur.one(self._s._p_usage_add, {"reg": registry_id, "size": size})
        if row is None:
            return None
        return int(row[0]), None if row[1] is None else int(row[1])

    def link(self, registry_id: int, repository: str, digest: str) -> None:
        self._s.link(self._cur, registry_id, repository, digest, self._ts)

    def drop_upload(self, upload_id: str) -> None:
        self._cur.run(self._s._p_upload_delete, {"upload_id": upload_id})
