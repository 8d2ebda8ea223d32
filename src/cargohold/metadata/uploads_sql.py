"""Upload sessions in the metadata store: the row's `size` is the truth (compare-and-set advances)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from cargohold.core.ports.records import UploadRecord
from cargohold.metadata import schema as t
from cargohold.metadata.db import Database, _utc, now
from cargohold.metadata.prepared import Prepared


class UploadsSql(Database):
    def _init_uploads(self) -> None:
        u = t.uploads
        p = sa.bindparam
        self._q_upload_insert = sa.insert(u).values({c.name: p(c.name) for c in u.c})
        self._q_upload_get = sa.select(u).where(
            u.c.id == p("upload_id"), u.c.registry_id == p("registry_id"), u.c.repository == p("name"))
        self._q_upload_advance = sa.update(u).where(u.c.id == p("upload_id"), u.c.size == p("from_size")).values(
            size=p("to_size"), hash_state=p("hash_state"), updated_at=p("ts"))
        self._q_upload_remove = sa.delete(u).where(u.c.id == p("upload_id"))
        self._q_upload_exists = sa.select(u.c.id).where(u.c.id == p("upload_id"))
        d = self.engine.dialect
        self._p_upload_insert = Prepared(self._q_upload_insert, d)
        self._p_upload_get = Prepared(self._q_upload_get, d)
        self._p_upload_advance = Prepared(self._q_upload_advance, d)
        self._p_upload_remove = Prepared(self._q_upload_remove, d)
        self._p_upload_exists = Prepared(self._q_upload_exists, d)

    def create_upload(self, upload: UploadRecord) -> None:
        with self.fast_write(durable=False) as cur:
            cur.run(self._p_upload_insert, {
                "id": upload.id, "registry_id": upload.registry_id, "repository": upload.repository,
                "size": upload.size, "hash_algorithm": upload.hash_algorithm, "hash_state": upload.hash_state,
                "created_at": upload.created_at, "updated_at": upload.updated_at, "owner": upload.owner,
            })

    def get_upload(self, registry_id: int, repository: str, upload_id: str) -> UploadRecord | None:
        with self.fast_read() as cur:
            row = cur.one(self._p_upload_get, {"upload_id": upload_id, "registry_id": registry_id, "name": repository})
        if row is None:
            return None
        uid, reg, repo, size, algorithm, state, created, updated, owner = row
        return UploadRecord(uid, reg, repo, size, algorithm, state, _utc(created), _utc(updated), owner)

    def advance_upload(self, upload_id: str, from_size: int, to_size: int, hash_state: bytes | None) -> bool:
        with self.fast_write(durable=False) as cur:
            return cur.run(self._p_upload_advance, {
                "upload_id": upload_id, "from_size": from_size, "to_size": to_size, "hash_state": hash_state,
                "ts": now(),
            }) == 1

    def delete_upload(self, upload_id: str) -> bool:
        with self.fast_write() as cur:
            return cur.run(self._p_upload_remove, {"upload_id": upload_id}) > 0

    def uploads_idle_since(self, before: datetime) -> list[str]:
        u = t.uploads
        with self.read() as conn:
            return list(conn.execute(sa.select(u.c.id).where(u.c.updated_at < before)).scalars())

    def upload_exists(self, upload_id: str) -> bool:
        with self.fast_read() as cur:
            return cur.one(self._p_upload_exists, {"upload_id": upload_id}) is not None
