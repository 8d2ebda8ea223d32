"""Pushing small images over /v2/ for the repository-management tests, and reading them back."""

from __future__ import annotations

import json
import uuid

import httpx

from support import OCI_CONFIG as MT_CONFIG
from support import OCI_LAYER as MT_LAYER
from support import OCI_MANIFEST as MT_MANIFEST
from support import error_of, put_manifest, unique
from support import sha256 as digest_of
from support import upload_blob as upload

__all__ = ["MT_CONFIG", "MT_LAYER", "MT_MANIFEST", "digest_of", "error_of", "image", "pull_status", "push",
           "put_manifest", "unique", "upload"]


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
