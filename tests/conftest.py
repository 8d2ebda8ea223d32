from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import RegistryServer, running_registry

# The failed-login limit (on by default) would turn the suites' deliberate wrong passwords, all from
# 127.0.0.1, into 429s; tests/hardening/test_login_limits.py turns it on for its own server.
os.environ.setdefault("CARGOHOLD_LOGIN_LIMITS_ENABLED", "false")


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
