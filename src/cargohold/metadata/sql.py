"""MetadataStore on SQLAlchemy Core: SQLite (WAL) embedded, PostgreSQL for scale-out.

The store is composed of one module per concept on shared plumbing: db.py (engine, transactions,
repository ids, IntegrityError as Conflict), prepared.py (the request paths' statement layer),
blobs_sql.py, uploads_sql.py and manifests_sql.py (manifests and tags); registries and repository
names live here. Core applies its rules inside the units of work these open (core/ports/transactions.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from cargohold.core.ports.generations import Generations
from cargohold.core.ports.records import Registry
from cargohold.metadata import schema as t
from cargohold.metadata.blobs_sql import BlobsSql
from cargohold.metadata.db import create_engine, now
from cargohold.metadata.manifests_sql import ManifestsSql
from cargohold.metadata.uploads_sql import UploadsSql

__all__ = ["SqlMetadataStore", "create_engine", "now"]  # create_engine and now: for the callers of before the split


class SqlMetadataStore(BlobsSql, UploadsSql, ManifestsSql):
    def __init__(self, engine: sa.Engine, generations: Generations | None = None) -> None:
        super().__init__(engine, generations)
        self._init_blobs()
        self._init_uploads()
        self._init_manifests()

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
        with self.fast_read() as cur:
            return self.fast_repository_id(cur, registry_id, repository, create=False) is not None

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
