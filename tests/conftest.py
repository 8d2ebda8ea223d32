from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import RegistryServer, running_registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One registry for the whole session (2 workers, so cross-worker state is exercised)."""
    with running_registry(tmp_path_factory.mktemp("registry") / "data", workers=2) as server:
        yield server


@pytest.fixture()
def fresh_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """A registry of the test's own, for tests that restart or kill it."""
    with running_registry(tmp_path / "data", workers=1) as server:
        yield server
