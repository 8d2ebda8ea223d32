"""Helpers for the retention tests: in-process stores on a fresh database, and direct SQL on a server's
database (for what no API does: set a SKU, a timestamp)."""

from __future__ import annotations

import sqlalchemy as sa

from cargohold.metadata.access_sql import SqlAccessStore
from cargohold.metadata.migrate import upgrade
from cargohold.metadata.retention_sql import SqlRetentionStore
from cargohold.metadata.sql import SqlMetadataStore, create_engine
from support import RegistryServer, server_database_url


class Stores:
    def __init__(self, url: str) -> None:
        engine = create_engine(url)
        upgrade(engine)
        self.metadata = SqlMetadataStore(engine)
        self.access = SqlAccessStore(self.metadata)
        self.retention = SqlRetentionStore(self.metadata)
        self.registry = self.metadata.ensure_registry("retentiontest", "retention.test")
        self.access.update_settings(self.registry.id)  # the settings row (Premium by default)

    def sql(self, statement: str, **params: object) -> None:
        with self.metadata.write() as conn:
            conn.execute(sa.text(statement), params)


def server_engine(server: RegistryServer) -> sa.Engine:
    """The server's own database, for what the API cannot do yet (set a SKU, a lock, a timestamp)."""
    return sa.create_engine(server_database_url(server))


def server_sql(server: RegistryServer, statement: str, **params: object) -> None:
    engine = server_engine(server)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()
