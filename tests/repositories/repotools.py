"""Pushing small images over /v2/ for the repository-management tests, and reading them back."""

from __future__ import annotations

import hashlib
import json
import uuid

import httpx

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def upload(v2: httpx.Client, repo: str, blob: bytes) -> httpx.Response:
    return v2.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest_of(blob)}, content=blob,
                   headers={"Content-Type": "application/octet-stream"})


def image(payload: str) -> tuple[bytes, list[bytes]]:
    """A manifest and its blobs (config, one layer), distinct for each payload."""
    layer = f"layer {payload}".encode()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                         "payload": payload}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "size": len(config), "digest": digest_of(config)},
        "layers": [{"mediaType": MT_LAYER, "size": len(layer), "digest": digest_of(layer)}],
    }).encode()
    return manifest, [config, layer]


def put_manifest(v2: httpx.Client, repo: str, reference: str, manifest: bytes) -> httpx.Response:
    return v2.put(f"/v2/{repo}/manifests/{reference}", content=manifest, headers={"Content-Type": MT_MANIFEST})


def push(v2: httpx.Client, repo: str, tag: str | None, payload: str | None = None) -> str:
    """Push a small image (tagged `tag`, or by digest when None); its digest."""
    manifest, blobs = image(payload or uuid.uuid4().hex)
    for blob in blobs:
        r = upload(v2, repo, blob)
        assert r.status_code == 201, r.text
    digest = digest_of(manifest)
    r = put_manifest(v2, repo, tag or digest, manifest)
    assert r.status_code == 201, r.text
    return digest


def pull_status(v2: httpx.Client, repo: str, reference: str, method: str = "GET") -> int:
    return v2.request(method, f"/v2/{repo}/manifests/{reference}", headers={"Accept": MT_MANIFEST}).status_code


def error_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    return body["errors"][0]  # type: ignore[no-any-return]
