"""Fixtures for the repository-management tests: a registry of their own with 2 workers (so caches and
cross-worker invalidation are exercised), the owner's /api client, and a /v2/ client as the owner."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent / "management", HERE.parent / "cli", HERE.parent / "clients"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from mgmttools import OWNER_PASSWORD, Api  # noqa: E402

from support import RegistryServer, running_registry  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    data = tmp_path_factory.mktemp("repositories") / "data"
    with running_registry(data, workers=2, extra_env={"CARGOHOLD_OWNER_PASSWORD": OWNER_PASSWORD}) as s:
        yield s


@pytest.fixture(scope="module")
def owner(server: RegistryServer) -> Iterator[Api]:
    with Api(server.url, "owner", OWNER_PASSWORD) as api:
        yield api


@pytest.fixture(scope="module")
def v2(server: RegistryServer) -> Iterator[httpx.Client]:
    """/v2/ as the owner (Docker token flow)."""
    with server.client() as c:
        yield c
