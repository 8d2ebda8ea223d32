"""Fixtures for the real-client tests.

By default the tests use the project's `registry` / `fresh_registry` fixtures
(tests/conftest.py: a real `cargohold serve`). With
CARGOHOLD_CLIENTS_REFERENCE=1 they run against Debian's `docker-registry`
(CNCF Distribution 2.8) instead, to check the client invocations themselves
against the reference implementation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clienttools import Clients

from support import RegistryServer

REFERENCE = os.environ.get("CARGOHOLD_CLIENTS_REFERENCE", "") not in ("", "0")


class DistributionServer(RegistryServer):
    """Same interface as RegistryServer, but runs CNCF Distribution (`docker-registry serve`)."""

    reference = True

    def start(self, timeout: float = 30.0) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            pytest.skip("docker-registry (CNCF Distribution) is not installed")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir.parent / f"{self.data_dir.name}-distribution.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: info\n  fields:\n    service: registry\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.data_dir}\n"
            "  delete:\n    enabled: true\n"
            "  cache:\n    blobdescriptor: inmemory\n"
            f"http:\n  addr: {self.host}\n"
            "  secret: cargohold-client-tests\n"  # upload state tokens must survive a restart
        )
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/v2/", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start: {self.log_path.read_text()[-2000:]}")


if REFERENCE:

    @pytest.fixture(scope="session")
    def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
        server = DistributionServer(tmp_path_factory.mktemp("distribution") / "data")
        server.start()
        try:
            yield server
        finally:
            server.stop()

    @pytest.fixture()
    def fresh_registry(tmp_path: Path) -> Iterator[RegistryServer]:
        server = DistributionServer(tmp_path / "data")
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture()
def clients(tmp_path: Path, registry: RegistryServer) -> Iterator[Clients]:
    """skopeo/podman/buildah/umoci with per-test storage and config, aimed at the session registry."""
    c = Clients(tmp_path / "clients", registry)
    try:
        yield c
    finally:
        c.close()
