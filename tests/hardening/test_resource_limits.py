"""Issue 8, hole 8: open upload sessions are capped per repository and per identity (a clear DENIED
beyond the cap), and 16 concurrent pushes over real HTTP on SQLite meet no "database is locked" and
no 5xx."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from support import RegistryServer, running_registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    env = {"CARGOHOLD_MAX_OPEN_UPLOADS_PER_REPOSITORY": "3", "CARGOHOLD_MAX_OPEN_UPLOADS_PER_IDENTITY": "5",
           "CARGOHOLD_THROTTLING_ENABLED": "false"}
    with running_registry(tmp_path_factory.mktemp("caps") / "data", workers=2, extra_env=env) as server:
        yield server


def test_open_uploads_are_capped_per_repository_and_identity(capped: RegistryServer) -> None:
    prefix = f"caps/{uuid.uuid4().hex[:6]}"
    with capped.client() as c:
        def start(repo: str) -> httpx.Response:
            return c.post(f"/v2/{prefix}/{repo}/blobs/uploads/")

        opened = [start("a") for _ in range(3)]
        assert [r.status_code for r in opened] == [202] * 3
        over = start("a")
        assert over.status_code == 403, over.text
        error = over.json()["errors"][0]
        assert error["code"] == "DENIED" and "repository" in error["message"] and error["detail"]["limit"] == 3

        assert [start("b").status_code for _ in range(2)] == [202, 202]  # the identity now holds 5
        over = start("c")
        assert over.status_code == 403 and "identity" in over.json()["errors"][0]["message"], over.text

        # A finished or cancelled session frees its slot; a monolithic push needs none.
        assert c.delete(opened[0].headers["Location"]).status_code == 204
        assert start("c").status_code == 202
        blob = os.urandom(64)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        r = c.post(f"/v2/{prefix}/a/blobs/uploads/", params={"digest": digest}, content=blob,
                   headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text


def push_image(client: httpx.Client, repo: str) -> list[int]:
    statuses = []
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": uuid.uuid4().hex}).encode()
    layer = os.urandom(200_000)
    descriptors = []
    for blob in (config, layer):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        start = client.post(f"/v2/{repo}/blobs/uploads/")
        statuses.append(start.status_code)
        put = client.put(start.headers["Location"], params={"digest": digest}, content=blob,
                         headers={"Content-Type": "application/octet-stream"})
        statuses.append(put.status_code)
        descriptors.append({"mediaType": "application/octet-stream", "digest": digest, "size": len(blob)})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {**descriptors[0], "mediaType": "application/vnd.oci.image.config.v1+json"},
                           "layers": descriptors[1:]}).encode()
    statuses.append(client.put(f"/v2/{repo}/manifests/latest", content=manifest,
                               headers={"Content-Type": OCI_MANIFEST}).status_code)
    statuses.append(client.get(f"/v2/{repo}/manifests/latest", headers={"Accept": OCI_MANIFEST}).status_code)
    return statuses


def test_sixteen_concurrent_pushes_on_sqlite(tmp_path: Path) -> None:
    server = RegistryServer(tmp_path / "data", workers=2, extra_env={"CARGOHOLD_THROTTLING_ENABLED": "false"})
    server.env.pop("CARGOHOLD_DATABASE_URL", None)  # SQLite's single writer, whatever the test pass
    server.start()
    try:
        with server.client() as warm:
            assert warm.get("/v2/").status_code == 200

        def one(i: int) -> list[int]:
            with server.client() as client:
                return push_image(client, f"concurrent/p{i}")

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(one, range(16)))
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert all(s < 500 for r in results for s in r), results
    assert all(r == [202, 201, 202, 201, 201, 200] for r in results), results
    assert "database is locked" not in log
