"""Fixtures for the real-client tests.

By default the tests use the project's `registry` / `fresh_registry` fixtures
(tests/conftest.py: a real `cargohold serve`). With
CARGOHOLD_CLIENTS_REFERENCE=1 they run against Debian's `docker-registry`
(CNCF Distribution 2.8) instead, to check the client invocations themselves
against the reference implementation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from clienttools import Clients

from support import RegistryServer, running_distribution

REFERENCE = os.environ.get("CARGOHOLD_CLIENTS_REFERENCE", "") not in ("", "0")


if REFERENCE:

    @pytest.fixture(scope="session")
    def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
        with running_distribution(tmp_path_factory.mktemp("distribution") / "data") as server:
            yield server

    @pytest.fixture()
    def fresh_registry(tmp_path: Path) -> Iterator[RegistryServer]:
        with running_distribution(tmp_path / "data") as server:
            yield server


@pytest.fixture()
def clients(tmp_path: Path, registry: RegistryServer) -> Iterator[Clients]:
    """skopeo/podman/buildah/umoci with per-test storage and config, aimed at the session registry."""
    with Clients(tmp_path / "clients", registry) as c:
        yield c
