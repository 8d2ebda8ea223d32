"""Helpers for the import tests: calling /api/import, pushing raw content to a source, reading a target."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx

from support import ACCEPT_MANIFESTS as ACCEPT
from support import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    RegistryServer,
    canonical,
    push_blob,
    push_manifest,
    sha256,
    unique,
)

__all__ = ["ACCEPT", "DOCKER_LIST", "DOCKER_MANIFEST", "OCI_EMPTY", "OCI_INDEX", "OCI_MANIFEST", "ImportCall",
           "blob_status", "call_import", "canonical", "imported", "manifest_bytes", "push_blob", "push_manifest",
           "referrer_digests", "referrer_of", "sha256", "simple_image", "storage_used", "tags", "unique"]


class ImportCall:
    """The outcome of POST /api/import: an error answer, or the NDJSON events."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body
        self.events: list[dict[str, Any]] = []
        if status == 200:
            self.events = [json.loads(line) for line in body.splitlines() if line.strip()]

    @property
    def error(self) -> dict[str, Any]:
        doc = json.loads(self.body)
        assert set(doc) == {"errors"}, doc
        return dict(doc["errors"][0])

    @property
    def last(self) -> dict[str, Any]:
        return self.events[-1]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    def __repr__(self) -> str:
        return f"ImportCall({self.status}, {self.body[:2000]!r})"


def call_import(server: RegistryServer, source: str, *targets: str, **extra: Any) -> ImportCall:
    body: dict[str, Any] = {"source": source, "targetTags": list(targets), **extra}
    with httpx.Client(base_url=server.url, auth=server.basic_auth, timeout=300) as http:
        r = http.post("/api/import", json=body)
    return ImportCall(r.status_code, r.headers.get("content-type", ""), r.content)


def imported(server: RegistryServer, source: str, *targets: str, **extra: Any) -> ImportCall:
    """An import that must succeed: 200, NDJSON, start first, done last."""
    result = call_import(server, source, *targets, **extra)
    assert result.status == 200, result
    assert result.content_type.startswith("application/x-ndjson"), result.content_type
    assert result.events[0]["event"] == "start", result
    assert result.last["event"] == "done", result
    return result


# --- pushing raw content (any registry; auth is None for an anonymous Distribution) -----------------


def simple_image(http: httpx.Client, repo: str, tag: str | None, seed: str, layer_size: int = 4096
                 ) -> tuple[str, bytes, dict[str, bytes]]:
    """An OCI image with a config and one random layer; (digest, manifest, blobs by digest)."""
    layer = random.Random(seed).randbytes(layer_size)
    config = canonical({"architecture": "amd64", "os": "linux", "seed": seed,
                        "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]}})
    blobs = {sha256(config): config, sha256(layer): layer}
    for data in blobs.values():
        push_blob(http, repo, data)
    manifest = canonical({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(layer),
                    "size": len(layer)}],
    })
    digest = push_manifest(http, repo, tag or sha256(manifest), manifest, OCI_MANIFEST)
    return digest, manifest, blobs


def referrer_of(http: httpx.Client, repo: str, subject: bytes, subject_type: str, payload: bytes,
                artifact_type: str = "application/vnd.example.sbom") -> tuple[str, bytes]:
    """An artifact manifest whose subject is `subject` (a signature, an SBOM); pushed by digest."""
    push_blob(http, repo, b"{}")
    push_blob(http, repo, payload)
    body = canonical({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": sha256(payload), "size": len(payload)}],
        "subject": {"mediaType": subject_type, "digest": sha256(subject), "size": len(subject)},
    })
    return push_manifest(http, repo, sha256(body), body, OCI_MANIFEST), body


# --- reading the target ---------------------------------------------------------------------------


def manifest_bytes(server: RegistryServer, repo: str, reference: str) -> tuple[int, bytes]:
    with server.client() as http:
        r = http.get(f"/v2/{repo}/manifests/{reference}", headers={"Accept": ACCEPT})
    return r.status_code, r.content


def blob_status(server: RegistryServer, repo: str, digest: str) -> int:
    with server.client() as http:
        return http.head(f"/v2/{repo}/blobs/{digest}").status_code


def referrer_digests(server: RegistryServer, repo: str, digest: str) -> list[str]:
    with server.client() as http:
        r = http.get(f"/v2/{repo}/referrers/{digest}")
    assert r.status_code == 200, (r.status_code, r.text)
    return [d["digest"] for d in r.json()["manifests"]]


def tags(server: RegistryServer, repo: str) -> list[str] | None:
    with server.client() as http:
        r = http.get(f"/v2/{repo}/tags/list")
    if r.status_code == 404:
        return None
    assert r.status_code == 200, (r.status_code, r.text)
    return list(r.json().get("tags") or [])


def storage_used(server: RegistryServer) -> Any:
    """The registry's usage rows (`az acr show-usage`)."""
    with httpx.Client(base_url=server.url, auth=server.basic_auth, timeout=30) as http:
        r = http.get("/api/registry/usage")
    assert r.status_code == 200, (r.status_code, r.text)
    usage = r.json()  # without the storage's capacity rows, which move with the disk (issue 9)
    usage["value"] = [row for row in usage["value"] if row["name"] not in ("StorageCapacity", "StorageFree")]
    return usage
