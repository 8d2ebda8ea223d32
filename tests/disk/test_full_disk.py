"""A data dir that is completely full (issue 9), driven over HTTP: reads keep working, writes fail with
403 DENIED naming the free and needed bytes and leave nothing behind, and uploads work again as soon as
space returns, without a restart. No reserve is configured here, so the disk really runs out (the
reserve's own refusal is exercised with skopeo in test_full_disk_clients.py); with SQLite the database
lives on the same full disk."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
from disktools import check_consistent, fill, upload_files, worker_exits
from importtools import call_import, simple_image

from support import OUTBOUND_LOOPBACK, RegistryServer, running_distribution

MIB = 1 << 20


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _denied_for_space(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 403, (r.status_code, r.text)
    error = r.json()["errors"][0]
    assert error["code"] == "DENIED" and error["message"].startswith("storage full: "), error
    assert {"free", "needed"} <= set(error["detail"]), error
    return dict(error)


def _push_image(v2: httpx.Client, repo: str, tag: str) -> tuple[str, bytes]:
    layer = os.urandom(MIB)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    for blob in (config, layer):
        r = v2.post(f"/v2/{repo}/blobs/uploads/", params={"digest": _digest(blob)}, content=blob)
        assert r.status_code == 201, r.text
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _digest(layer),
                    "size": len(layer)}]}).encode()
    r = v2.put(f"/v2/{repo}/manifests/{tag}", content=manifest,
               headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201, r.text
    return _digest(layer), layer


def _session(v2: httpx.Client, repo: str) -> str:
    r = v2.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    return str(r.headers["Location"])


def test_reads_survive_a_full_disk_and_writes_fail_clearly(tmpfs: Any, tmp_path: Path) -> None:
    data = tmpfs("24m")
    server = RegistryServer(data, workers=2, extra_env={"CARGOHOLD_STORAGE_RESERVE_BYTES": "0",
                                                        "CARGOHOLD_STORAGE_RESERVE_PERCENT": "0", **OUTBOUND_LOOPBACK})
    server.start()
    try:
        with server.client() as v2, running_distribution(tmp_path / "source") as source:
            with httpx.Client(base_url=source.url) as anonymous:
                simple_image(anonymous, "src", "v1", "full-disk", 2 * MIB)
            layer_digest, layer = _push_image(v2, "keep", "v1")
            resumed, cancelled = _session(v2, "keep"), _session(v2, "keep")

            filler = data / "filler"
            assert fill(filler) > 0

            # Reads, and authentication (whose login records cannot be written now).
            assert httpx.get(server.url + "/v2/", auth=server.basic_auth).status_code == 200
            assert httpx.get(server.url + "/v2/", auth=(server.username, "wrong")).status_code == 401
            token = httpx.get(server.url + "/oauth2/token", auth=server.basic_auth,
                              params={"service": server.host, "scope": "repository:keep:pull"})
            assert token.status_code == 200, token.text
            bearer = {"Authorization": f"Bearer {token.json()['token']}"}
            assert httpx.get(server.url + "/v2/", headers=bearer).status_code == 200
            assert httpx.get(server.url + "/v2/keep/tags/list", headers=bearer).json()["tags"] == ["v1"]
            assert httpx.get(server.url + "/v2/keep/manifests/v1", headers=bearer).status_code == 200
            assert v2.head(f"/v2/keep/blobs/{layer_digest}").status_code == 200
            assert v2.get(f"/v2/keep/blobs/{layer_digest}").content == layer

            # Writes: a clear 403, and no byte of them stays.
            refused = _denied_for_space(v2.patch(resumed, content=os.urandom(2 * MIB)))
            assert refused["detail"]["needed"] == 2 * MIB
            check_consistent(server)
            before = set(upload_files(server))
            blob = os.urandom(2 * MIB)
            _denied_for_space(v2.post("/v2/keep/blobs/uploads/", params={"digest": _digest(blob)}, content=blob))
            assert set(upload_files(server)) == before
            opened = v2.post("/v2/keep/blobs/uploads/")  # SQLite may still find room for the session row
            if opened.status_code != 202:
                _denied_for_space(opened)
            cancel = v2.delete(cancelled)  # SQLite too: its WAL's blocks were allocated while there was room
            assert cancel.status_code == 204, cancel.text
            check_consistent(server)
            changed = httpx.patch(server.url + "/api/repositories/keep", auth=server.basic_auth,
                                  json={"writeEnabled": True})  # an /api write: refused when the database is full
            if changed.status_code != 200:
                _denied_for_space(changed)
            imported = call_import(server, f"http://{source.host}/src:v1", "imported:v1")  # the /api write path
            assert imported.status == 403 and imported.error["code"] == "DENIED", imported
            assert imported.error["message"].startswith("storage full: "), imported

            ready = httpx.get(server.url + "/readyz")
            assert ready.status_code == 200 and ready.json()["storage"] == "low", ready.text
            assert httpx.get(server.url + "/healthz").status_code == 200

            # Space returns: the refused upload resumes, no restart.
            filler.unlink()
            assert v2.patch(resumed, content=blob).status_code == 202
            done = v2.put(resumed, params={"digest": _digest(blob)})
            assert done.status_code == 201, done.text
            assert v2.get(f"/v2/keep/blobs/{_digest(blob)}").content == blob
            assert v2.delete(cancelled).status_code == 404
            assert httpx.get(server.url + "/readyz").json()["storage"] == "ok"
            check_consistent(server)

            # A repository delete gives back the bytes only of blobs no other repository links.
            mounted = v2.post("/v2/other/blobs/uploads/", params={"mount": layer_digest, "from": "keep"})
            assert mounted.status_code == 201, mounted.text
            gone = httpx.delete(server.url + "/api/repositories/keep", auth=server.basic_auth)
            assert gone.status_code == 200, gone.text
            assert v2.get(f"/v2/other/blobs/{layer_digest}").content == layer
            assert not (data / "storage" / "blobs" / "sha256" / _digest(blob)[7:9] / _digest(blob)[7:]).exists()
            check_consistent(server)
        assert worker_exits(server) == []
        assert "storage low" in server.log_path.read_text()
    finally:
        server.stop()
