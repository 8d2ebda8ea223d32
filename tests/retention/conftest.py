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

from mgmttools import OWNER_PASSWORD, Api
from retentiontools import Stores

from support import RegistryServer, _fresh_database_url, running_registry

JOB_INTERVAL = "0.5"


@pytest.fixture()
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = Stores(_fresh_database_url() or f"sqlite:///{tmp_path}/metadata.db")
    try:
        yield s
    finally:
        s.metadata.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    data = tmp_path_factory.mktemp("retention") / "data"
    env = {"CARGOHOLD_OWNER_PASSWORD": OWNER_PASSWORD, "CARGOHOLD_JOB_INTERVAL_SECONDS": JOB_INTERVAL}
    with running_registry(data, workers=2, extra_env=env) as s:
        yield s


@pytest.fixture(scope="session")
def owner(server: RegistryServer) -> Iterator[Api]:
    with Api(server.url, "owner", OWNER_PASSWORD) as api:
        yield api
