"""The retention job on a real server (2 workers, jobs every 0.5 s), driven through /api and /v2/:
what it deletes, what it keeps, and what the data plane shows afterwards."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clienttools import Clients
from mgmttools import OWNER_PASSWORD, Api, Registry
from retentiontools import server_sql

from support import RegistryServer
from support import sha256 as digest_of

OCI_IMAGE = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class Pusher:
    """Pushes images, indexes and referrers over /v2/ as the owner."""

    def __init__(self, server: RegistryServer) -> None:
        self.v2 = Registry(server.url, "owner", OWNER_PASSWORD)

    def blob(self, repo: str, data: bytes) -> dict[str, Any]:
        r = self.v2._send("POST", f"/v2/{repo}/blobs/uploads/", repo, "pull,push", params={"digest": digest_of(data)},
                          content=data, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return {"mediaType": "application/octet-stream", "size": len(data), "digest": digest_of(data)}

    def manifest(self, repo: str, body: dict[str, Any], reference: str | None = None) -> str:
        content = json.dumps(body).encode()
        r = self.v2._send("PUT", f"/v2/{repo}/manifests/{reference or digest_of(content)}", repo, "pull,push",
                          content=content, headers={"Content-Type": body["mediaType"]})
        assert r.status_code == 201, r.text
        return digest_of(content)

    def image(self, repo: str, name: str, tag: str | None = None, subject: str | None = None) -> str:
        config = self.blob(repo, json.dumps({"name": name}).encode())
        config["mediaType"] = "application/vnd.oci.image.config.v1+json"
        body: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_IMAGE, "config": config,
                                "layers": [self.blob(repo, f"layer of {name}".encode())]}
        if subject is not None:
            body["artifactType"] = "application/vnd.example.signature"
            body["subject"] = {"mediaType": OCI_IMAGE, "digest": subject, "size": self.size(repo, subject)}
        return self.manifest(repo, body, tag)

    def index(self, repo: str, children: list[str], tag: str) -> str:
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": [{"mediaType": OCI_IMAGE, "digest": d, "size": self.size(repo, d)} for d in children]}
        return self.manifest(repo, body, tag)

    def get(self, repo: str, reference: str) -> Any:
        return self.v2._send("GET", f"/v2/{repo}/manifests/{reference}", repo, "pull",
                             headers={"Accept": f"{OCI_IMAGE}, {OCI_INDEX}"})

    def size(self, repo: str, digest: str) -> int:
        r = self.get(repo, digest)
        assert r.status_code == 200, r.text
        return len(r.content)

    def exists(self, repo: str, digest: str) -> bool:
        r = self.get(repo, digest)
        assert r.status_code in (200, 404), r.text
        if r.status_code == 404:
            assert r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN", r.text
        return r.status_code == 200

    def tags(self, repo: str) -> list[str]:
        r = self.v2._send("GET", f"/v2/{repo}/tags/list", repo, "pull")
        assert r.status_code == 200, r.text
        return list(r.json()["tags"] or [])


@pytest.fixture(scope="module")
def pusher(server: RegistryServer) -> Iterator[Pusher]:
    p = Pusher(server)
    yield p
    p.v2.close()


def wait_for(check: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_due_manifests_are_deleted_and_everything_in_use_is_kept(server: RegistryServer, owner: Api,
                                                                   pusher: Pusher) -> None:
    repo = "retention/app"
    old = pusher.image(repo, "old", "v1")
    current = pusher.image(repo, "current", "v1")  # v1 moves: `old` is untagged
    signature = pusher.image(repo, "signature", subject=current)  # a referrer of a live image
    amd64, arm64 = pusher.image(repo, "amd64"), pusher.image(repo, "arm64")
    index = pusher.index(repo, [amd64, arm64], "multi")  # its children are untagged but in use
    locked = pusher.image(repo, "locked")
    server_sql(server, "UPDATE manifests SET write_enabled = false WHERE digest = :d", d=locked)
    stray_sig = pusher.image(repo, "stray-signature", subject=old)  # goes with its subject
    other_repo = pusher.image("retention/other", "dangling")
    time.sleep(1.5)  # the job has run a few times with the policy off: nothing went
    assert pusher.exists(repo, old) and pusher.exists("retention/other", other_repo)

    assert owner.patch("/registry/retention", {"status": "enabled", "days": 0})["status"] == "enabled"
    try:
        assert wait_for(lambda: not pusher.exists(repo, old) and not pusher.exists(repo, stray_sig)
                        and not pusher.exists("retention/other", other_repo)), "the due manifests stayed"
        for kept in (current, signature, amd64, arm64, index, locked):
            assert pusher.exists(repo, kept), kept
        assert pusher.tags(repo) == ["multi", "v1"]
        assert pusher.get(repo, "v1").headers["Docker-Content-Digest"] == current
        # Each deletion is logged by name.
        log = server.log_path.read_text()
        assert f"cargohold.retention: deleted untagged manifest {server.host}/{repo}@{old}" in log
    finally:
        owner.patch("/registry/retention", {"status": "disabled", "days": 7})


def test_a_manifest_untagged_later_goes_at_the_next_sweep(server: RegistryServer, owner: Api,
                                                          pusher: Pusher) -> None:
    repo = "retention/later"
    first = pusher.image(repo, "first", "latest")
    owner.patch("/registry/retention", {"status": "enabled", "days": 0})
    try:
        time.sleep(1.5)
        assert pusher.exists(repo, first)  # tagged
        assert pusher.v2.delete_tag(repo, "latest") == 202
        assert wait_for(lambda: not pusher.exists(repo, first))
        assert pusher.tags(repo) == []
    finally:
        owner.patch("/registry/retention", {"status": "disabled", "days": 7})


def test_days_keep_recent_untagged_manifests(server: RegistryServer, owner: Api, pusher: Pusher) -> None:
    repo = "retention/recent"
    pusher.image(repo, "a", "t")
    untagged = pusher.image(repo, "b", "t")
    owner.patch("/registry/retention", {"status": "enabled", "days": 1})
    try:
        time.sleep(2.0)  # several sweeps
        assert pusher.exists(repo, untagged)
    finally:
        owner.patch("/registry/retention", {"status": "disabled", "days": 7})


@pytest.mark.clients
def test_skopeo_sees_the_removed_digest_gone_and_the_tag_intact(server: RegistryServer, owner: Api,
                                                                 pusher: Pusher, tmp_path: Path) -> None:
    repo = "retention/skopeo"
    old = pusher.image(repo, "old", "v1")
    current = pusher.image(repo, "current", "v1")
    clients = Clients(tmp_path / "clients", server)
    try:
        owner.patch("/registry/retention", {"status": "enabled", "days": 0})
        try:
            assert wait_for(lambda: not pusher.exists(repo, old))
        finally:
            owner.patch("/registry/retention", {"status": "disabled", "days": 7})
        gone = clients.skopeo("inspect", "--raw", "--tls-verify=false", "--creds", clients.creds,
                              clients.ref(repo, digest=old), check=False)
        assert gone.returncode != 0 and "manifest unknown" in gone.stderr.lower(), gone.stderr
        assert digest_of(clients.inspect_raw(clients.ref(repo, "v1"))) == current
        assert digest_of(clients.inspect_raw(clients.ref(repo, digest=current))) == current
    finally:
        clients.close()
