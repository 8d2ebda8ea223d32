"""Fixtures for the CLI tests: a real registry, and `cargohold` run as a subprocess in a sandbox."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# clienttools and ociimages live beside the client tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients"))

from clitools import Cli

from support import RegistryServer, running_registry


@pytest.fixture(scope="session")
def cli_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry of the CLI tests' own: they switch the admin user and anonymous pull on and off."""
    with running_registry(tmp_path_factory.mktemp("cli-registry") / "data", workers=1) as server:
        yield server


@pytest.fixture()
def cli(tmp_path: Path, cli_registry: RegistryServer) -> Cli:
    """The CLI acting as the registry's owner (CARGOHOLD_USERNAME/PASSWORD in its environment)."""
    return Cli(tmp_path / "cli", cli_registry)


@pytest.fixture()
def anon_cli(tmp_path: Path, cli_registry: RegistryServer) -> Cli:
    """The CLI with no credentials at all (until it logs in)."""
    return Cli(tmp_path / "anon-cli", cli_registry, owner=False)
