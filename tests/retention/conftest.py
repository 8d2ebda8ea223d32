"""Fixtures for the retention-policy tests: an in-process metadata store (unit level, SQLite or the
throwaway PostgreSQL), and a real server whose background jobs run every half second."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "management"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cli"))

from mgmttools import OWNER_PASSWORD, Api

from cargohold.metadata.access_sql import SqlAccessStore
from cargohold.metadata.migrate import upgrade
from cargohold.metadata.retention_sql import SqlRetentionStore
from cargohold.metadata.sql import SqlMetadataStore, create_engine
from support import RegistryServer, _fresh_database_url, running_registry

JOB_INTERVAL = "0.5"


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


@pytest.fixture()
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = Stores(_fresh_database_url() or f"sqlite:///{tmp_path}/metadata.db")
    try:
        yield s
    finally:
        s.metadata.close()


def server_engine(server: RegistryServer) -> sa.Engine:
    """The server's own database, for what the API cannot do yet (set a SKU, a lock, a timestamp)."""
    url = server.env.get("CARGOHOLD_DATABASE_URL") or f"sqlite:///{(server.data_dir / 'metadata.db').resolve()}"
    return sa.create_engine(url)


def server_sql(server: RegistryServer, statement: str, **params: object) -> None:
    engine = server_engine(server)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    data = tmp_path_factory.mktemp("retention") / "data"
    env = {"CARGOHOLD_OWNER_PASSWORD": OWNER_PASSWORD, "CARGOHOLD_JOB_INTERVAL_SECONDS": JOB_INTERVAL}
    with running_registry(data, workers=2, extra_env=env) as s:
        yield s


@pytest.fixture(scope="module")
def owner(server: RegistryServer) -> Iterator[Api]:
    with Api(server.url, "owner", OWNER_PASSWORD) as api:
        yield api
