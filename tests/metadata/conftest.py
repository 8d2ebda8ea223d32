"""The metadata store on SQLite, or on a fresh PostgreSQL database when CARGOHOLD_TEST_DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cargohold.metadata.migrate import upgrade
from cargohold.metadata.sql import SqlMetadataStore, create_engine
from support import _fresh_database_url


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = _fresh_database_url() or f"sqlite:///{tmp_path / 'meta.db'}"
    engine = create_engine(url)
    upgrade(engine)
    s = SqlMetadataStore(engine)
    yield s
    s.close()


@pytest.fixture()
def reg(store: SqlMetadataStore) -> int:
    return store.ensure_registry("cargohold", "127.0.0.1:5000").id
