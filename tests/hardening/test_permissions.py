"""Issue 8, hole 4: the data dir holds password hashes, keys and the owner's password, so it is 0700
and every file in it 0600 from creation; a start with anything wider warns, naming it."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from support import RegistryServer


def modes(root: Path) -> dict[str, int]:
    found = {str(root): stat.S_IMODE(root.lstat().st_mode)}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            found[str(path)] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_data_dir_is_private_from_creation(tmp_path: Path) -> None:
    server = RegistryServer(tmp_path / "data", workers=2, extra_env={"CARGOHOLD_OWNER_PASSWORD": ""})
    server.start()  # a generated owner password: owner-password is written too
    try:
        blob = os.urandom(1000)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        with server.client() as client:
            r = client.post("/v2/perm/test/blobs/uploads/", params={"digest": digest}, content=blob,
                            headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 201, r.text
            assert client.post("/v2/perm/test/blobs/uploads/").status_code == 202  # an open upload file
    finally:
        server.stop()
    found = modes(server.data_dir)
    names = {Path(p).name for p in found}
    assert {"owner-password", "keys"} <= names
    if not server.env.get("CARGOHOLD_DATABASE_URL"):
        assert {"metadata.db"} <= names
    wider = {p: f"{m:o}" for p, m in found.items() if m & 0o077}
    assert not wider, wider
    assert found[str(server.data_dir)] == 0o700
    assert "readable by others" not in server.log_path.read_text()


def test_start_warns_about_wider_entries(tmp_path: Path) -> None:
    server = RegistryServer(tmp_path / "data")
    server.start()
    server.stop()
    loose = server.data_dir / "keys"
    loose.chmod(0o755)
    (server.data_dir / "notes.txt").write_text("x")
    (server.data_dir / "notes.txt").chmod(0o644)
    server.start()
    server.stop()
    log = server.log_path.read_text()
    assert "readable by others" in log
    assert f"{loose} (755)" in log
    assert f"{server.data_dir / 'notes.txt'} (644)" in log
