"""Checks the full-disk tests share: the metadata agrees with the files, and nothing half-written stays."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import sqlalchemy as sa

from support import RegistryServer


def database_url(server: RegistryServer) -> str:
    return server.env.get("CARGOHOLD_DATABASE_URL") or f"sqlite:///{server.data_dir / 'metadata.db'}"


def upload_files(server: RegistryServer) -> dict[str, int]:
    """Upload id -> bytes held, of every file in the upload area."""
    uploads = server.data_dir / "storage" / "uploads"
    return {e.name: e.stat().st_size for e in os.scandir(uploads) if e.is_file()}


def check_consistent(server: RegistryServer) -> None:
    """Every blob row has its file; every upload file has its row and holds only acknowledged bytes;
    every upload row has its file."""
    engine = sa.create_engine(database_url(server))
    try:
        with engine.connect() as conn:
            blobs = [r[0] for r in conn.execute(sa.text("SELECT digest FROM blobs"))]
            uploads = {r[0]: int(r[1]) for r in conn.execute(sa.text("SELECT id, size FROM uploads"))}
    finally:
        engine.dispose()
    root = server.data_dir / "storage" / "blobs"
    missing = [d for d in blobs if not (root / d.split(":")[0] / d.split(":")[1][:2] / d.split(":")[1]).is_file()]
    assert missing == [], f"blob rows without their file: {missing}"
    files = upload_files(server)
    assert set(files) == set(uploads), f"upload files {sorted(files)} vs rows {sorted(uploads)}"
    assert all(files[u] == uploads[u] for u in files), f"bytes past the acknowledged size: {files} vs {uploads}"


def worker_exits(server: RegistryServer) -> list[str]:
    """The supervisor's lines about workers that died (and were restarted)."""
    return [line for line in Path(server.log_path).read_text(errors="replace").splitlines() if "exited with" in line]


def fill(path: Path) -> int:
    """Write `path` until the file system is full; the bytes written."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in ((1 << 20), 4096, 1):
            block = b"\xff" * size
            while True:
                try:
                    n = os.write(fd, block)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
                written += n
                if n < size:
                    break
    finally:
        os.close(fd)
    return written
