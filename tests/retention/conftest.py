"""Fixtures for the retention-policy tests: an in-process metadata store (unit level, SQLite or the
throwaway PostgreSQL), and a real server whose background jobs run every half second."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "management"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cli"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients"))

from retentiontools import Stores

from support import _fresh_database_url, owner_api_fixture, owner_registry_fixture

JOB_INTERVAL = "0.5"


@pytest.fixture()
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = Stores(_fresh_database_url() or f"sqlite:///{tmp_path}/metadata.db")
    try:
        yield s
    finally:
        s.metadata.close()


server = owner_registry_fixture("retention", workers=2, scope="session",
                                extra_env={"CARGOHOLD_JOB_INTERVAL_SECONDS": JOB_INTERVAL})
owner = owner_api_fixture(scope="session")
