"""Issue 8, holes 2 and 3 over HTTP: hostile manifest bodies are 400 MANIFEST_INVALID, never a 5xx,
and change nothing."""

from __future__ import annotations

import json
import uuid

import pytest

from support import RegistryServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
GOOD = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "c" * 64, "size": 2},
    "layers": [],
}).encode()

BODIES = {
    "5000 digits": GOOD[:-1] + b', "x": ' + b"7" * 5000 + b"}",
    "NaN": GOOD[:-1] + b', "x": NaN}',
    "lone surrogate": GOOD[:-1] + b', "annotations": {"a": "\\ud800"}}',
    "repeated mediaType": GOOD[:-1] + b', "mediaType": "' + OCI_MANIFEST.encode() + b'"}',
}


@pytest.mark.parametrize("name", list(BODIES))
def test_hostile_manifest_is_400(registry: RegistryServer, name: str) -> None:
    repo = f"hardening/m-{uuid.uuid4().hex[:8]}"
    with registry.client() as client:
        r = client.put(f"/v2/{repo}/manifests/v1", content=BODIES[name], headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["code"] == "MANIFEST_INVALID"
        assert client.get(f"/v2/{repo}/manifests/v1").status_code == 404


def test_content_type_contradicting_media_type_is_400(registry: RegistryServer) -> None:
    repo = f"hardening/m-{uuid.uuid4().hex[:8]}"
    with registry.client() as client:
        r = client.put(f"/v2/{repo}/manifests/v1", content=GOOD, headers={"Content-Type": "text/plain"})
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["code"] == "MANIFEST_INVALID"
        assert "does not match" in r.json()["errors"][0]["message"]
