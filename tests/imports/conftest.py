"""Fixtures for the import tests: real source registries on 127.0.0.1.

- `distribution`: CNCF Distribution 2.8 (Debian `docker-registry`), anonymous, populated with skopeo;
  it has no referrers API, so it also exercises the `sha256-<hex>` tag fallback.
- `source_cargohold`: a second Cargohold with authentication on (the Docker token flow).
- `liar`: a tiny Starlette app that serves blobs whose bytes do not match their digests.
The target is the session's `registry` (tests/conftest.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from importservers import Liar

from support import (
    OUTBOUND_LOOPBACK,
    DistributionServer,
    RegistryServer,
    free_port,
    running_distribution,
    running_registry,
)


@pytest.fixture(scope="session")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributionServer]:
    with running_distribution(tmp_path_factory.mktemp("distribution") / "data") as server:
        yield server


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """The import target (2 workers), allowed to reach the source servers on 127.0.0.1 (SSRF guard)."""
    with running_registry(tmp_path_factory.mktemp("import-target") / "data", workers=2,
                          extra_env=OUTBOUND_LOOPBACK) as server:
        yield server


@pytest.fixture()
def fresh_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """A target of the test's own, allowed to reach the source servers on 127.0.0.1."""
    with running_registry(tmp_path / "data", workers=1, extra_env=OUTBOUND_LOOPBACK) as server:
        yield server


@pytest.fixture(scope="session")
def source_cargohold(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with running_registry(tmp_path_factory.mktemp("source") / "data", workers=1) as server:
        yield server


@pytest.fixture(scope="session")
def liar() -> Iterator[tuple[Liar, str]]:
    port = free_port()
    fake = Liar()
    for served in fake.serve(port):
        yield served, f"127.0.0.1:{port}"
