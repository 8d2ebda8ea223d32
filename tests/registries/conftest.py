"""Fixtures for the registries tests: one server (2 workers) shared by the module's tests, an operator
(the default registry's owner) on its control plane, and helpers creating registries."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "management"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cli"))

from mgmttools import Api
from regtools import Created, create_registry

from support import RegistryServer, running_registry


@pytest.fixture(scope="session")
def ops_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A server of the registries tests' own (2 workers: registry changes must reach both at once)."""
    with running_registry(tmp_path_factory.mktemp("registries") / "data", workers=2,
                          extra_env={"CARGOHOLD_THROTTLING_ENABLED": "false"}) as server:
        yield server


@pytest.fixture()
def operator(ops_registry: RegistryServer) -> Iterator[Api]:
    with Api(ops_registry.url, ops_registry.username, ops_registry.password) as api:
        yield api


@pytest.fixture()
def new_registry(operator: Api) -> Iterator[Created]:
    """A Basic registry with a login server nobody dials (addressed through the Host header)."""
    created = create_registry(operator, "Basic")
    yield created
    operator.call("DELETE", f"/registries/{created.name}")
