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

from support import RegistryServer, owner_api_fixture, owner_registry_fixture  # noqa: E402

server = owner_registry_fixture("repositories", workers=2)
owner = owner_api_fixture()


@pytest.fixture(scope="module")
def v2(server: RegistryServer) -> Iterator[httpx.Client]:
    """/v2/ as the owner (Docker token flow)."""
    with server.client() as c:
        yield c
