"""Shared test helpers: a real `cargohold serve` process on 127.0.0.1, and tool checks.

Tests talk to the registry over real HTTP; nothing here fakes the server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

IN_CI = bool(os.environ.get("CI"))


def require_tool(name: str) -> str:
    """Path of a real client binary; fail (never skip) under CI when it is missing."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed"
        if IN_CI:
            pytest.fail(msg + " (CI must install it)")
        pytest.skip(msg)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_database_url() -> str | None:
    """A new empty PostgreSQL database when CARGOHOLD_TEST_DATABASE_URL is set, else None (SQLite)."""
    admin = os.environ.get("CARGOHOLD_TEST_DATABASE_URL")
    if not admin:
        return None
    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.rsplit("/", 1)[0] + "/" + name


class RegistryServer:
    """A `cargohold serve` subprocess with its own data dir (and own database under PostgreSQL)."""

    def __init__(self, data_dir: Path, workers: int = 1, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.env = dict(os.environ)
        self.env.pop("CARGOHOLD_DATABASE_URL", None)
        db = _fresh_database_url()
        if db:
            self.env["CARGOHOLD_DATABASE_URL"] = db
        self.env.update(extra_env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cargohold", "serve", "--listen", self.host,
             "--data-dir", str(self.data_dir), "--workers", str(self.workers)],
            stdout=log, stderr=subprocess.STDOUT, env=self.env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log_tail = self.log_path.read_text()[-2000:]
                raise RuntimeError(f"registry exited with {self.proc.returncode}: {log_tail}")
            try:
                if httpx.get(self.url + "/v2/", timeout=1.0).status_code in (200, 401):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"registry did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill9(self) -> None:
        """SIGKILL the server and every worker it started."""
        if self.proc is None:
            return
        try:
            pgrep = ["pgrep", "-P", str(self.proc.pid)]
            children = subprocess.run(pgrep, capture_output=True, text=True).stdout.split()
            for c in children:
                os.kill(int(c), signal.SIGKILL)
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def running_registry(
    data_dir: Path, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[RegistryServer]:
    server = RegistryServer(data_dir, workers=workers, extra_env=extra_env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
