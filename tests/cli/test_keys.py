"""`cargohold keys`: rotating while the registry runs keeps old tokens valid; retiring ends them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import jwt

from support import running_registry


def keys(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cargohold", "keys", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60)


def test_rotate_then_retire(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_registry(data, workers=2) as server:
        def token() -> str:
            r = httpx.get(server.url + "/oauth2/token", params={"scope": "repository:k/r:pull"},
                          auth=(server.username, server.password))
            return str(r.json()["token"])

        def works(tok: str) -> int:
            return httpx.get(server.url + "/v2/", headers={"Authorization": f"Bearer {tok}"}).status_code

        old = token()
        old_kid = jwt.get_unverified_header(old)["kid"]
        rotated = keys(data, "rotate")
        assert rotated.returncode == 0, rotated.stderr
        listing = json.loads(rotated.stdout)
        new_kid = next(k["kid"] for k in listing if k["active"])
        assert new_kid != old_kid and {k["kid"] for k in listing} == {old_kid, new_kid}
        for _ in range(6):  # both workers: the old token still verifies, new tokens use the new key
            assert works(old) == 200
            assert jwt.get_unverified_header(token())["kid"] == new_kid
        refused = keys(data, "retire", new_kid)
        assert refused.returncode == 1 and refused.stderr.startswith("error: ") and "active" in refused.stderr
        assert keys(data, "retire", old_kid).returncode == 0
        import time

        time.sleep(1.2)  # workers look at the key directory at most once a second
        for _ in range(6):
            assert works(old) == 401
            assert works(token()) == 200
