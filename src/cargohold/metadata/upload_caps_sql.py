"""Counting open upload sessions for core/upload_caps.py (indexed: ix_uploads_repository, ix_uploads_owner)."""

from __future__ import annotations

import sqlalchemy as sa

from cargohold.metadata import schema as t
from cargohold.metadata.sql import SqlMetadataStore


class SqlOpenUploads:
    def __init__(self, metadata: SqlMetadataStore) -> None:
        self._m = metadata
        u = t.uploads
        self._in_repository = sa.select(sa.func.count()).select_from(u).where(
            u.c.registry_id == sa.bindparam("registry_id"), u.c.repository == sa.bindparam("repository"))
        self._by_owner = sa.select(sa.func.count()).select_from(u).where(
            u.c.registry_id == sa.bindparam("registry_id"), u.c.owner == sa.bindparam("owner"))

    def count_open_uploads(self, registry_id: int, repository: str, owner: str | None) -> tuple[int, int]:
        with self._m.read() as conn:
            in_repository = conn.execute(self._in_repository, {"registry_id": registry_id,
                                                               "repository": repository}).scalar_one()
            by_owner = 0 if owner is None else conn.execute(self._by_owner, {"registry_id": registry_id,
                                                                             "owner": owner}).scalar_one()
        return int(in_repository), int(by_owner)
