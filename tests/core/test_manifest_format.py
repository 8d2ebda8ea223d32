from __future__ import annotations

import json
from typing import Any

import pytest

from cargohold.core.errors import ManifestInvalid, TooLarge
from cargohold.core.manifest_format import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    parse_manifest,
)

C = "sha256:" + "c" * 64
L = "sha256:" + "1" * 64
S = "sha256:" + "5" * 64


def image(**extra: Any) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": C, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": L, "size": 9}],
            **extra}


def enc(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_image_references_and_artifact_type_fallback() -> None:
    p = parse_manifest(enc(image()), OCI_MANIFEST)
    assert p.blobs == (C, L) and p.manifests == () and p.subject is None
    assert p.artifact_type == "application/vnd.oci.image.config.v1+json"
    p = parse_manifest(enc(image(artifactType="application/x-sig", subject={
        "mediaType": OCI_MANIFEST, "digest": S, "size": 3})), None)
    assert p.artifact_type == "application/x-sig" and p.subject == S


def test_index_and_docker_types() -> None:
    idx = {"schemaVersion": 2, "mediaType": OCI_INDEX,
           "manifests": [{"mediaType": OCI_MANIFEST, "digest": S, "size": 3}]}
    assert parse_manifest(enc(idx), OCI_INDEX).manifests == (S,)
    docker = image(mediaType=DOCKER_MANIFEST)
    assert parse_manifest(enc(docker), DOCKER_MANIFEST).media_type == DOCKER_MANIFEST
    lst = {**idx, "mediaType": DOCKER_LIST}
    assert parse_manifest(enc(lst), DOCKER_LIST).media_type == DOCKER_LIST


def test_media_type_from_content_type_when_body_has_none() -> None:
    doc = image()
    del doc["mediaType"]
    assert parse_manifest(enc(doc), OCI_MANIFEST).media_type == OCI_MANIFEST


def test_foreign_layers_are_not_required() -> None:
    doc = image()
    doc["layers"].append({"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                          "digest": S, "size": 1, "urls": ["https://example.invalid/l"]})
    assert S not in parse_manifest(enc(doc), None).blobs


@pytest.mark.parametrize("body,ctype", [
    (b"not json", OCI_MANIFEST),
    (b"[]", OCI_MANIFEST),
    (enc({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}),
     "application/vnd.docker.distribution.manifest.v1+prettyjws"),
    (enc({**image(), "schemaVersion": 3}), OCI_MANIFEST),
    (enc(image(mediaType="application/x-unknown")), None),
    (enc(image()), OCI_INDEX),  # Content-Type contradicts the body
    (enc({**image(), "layers": "nope"}), OCI_MANIFEST),
    (enc({**image(), "config": {"digest": "sha256:zz", "size": 1, "mediaType": "x"}}), OCI_MANIFEST),
    (enc({**image(), "config": {"digest": C, "size": -1, "mediaType": "x"}}), OCI_MANIFEST),
    (enc({**image(), "annotations": {"a": 1}}), OCI_MANIFEST),
    (enc({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": S}]}), OCI_INDEX),
])
def test_invalid_manifests(body: bytes, ctype: str | None) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(body, ctype)


def test_size_limit() -> None:
    with pytest.raises(TooLarge):
        parse_manifest(b" " * (MAX_MANIFEST_BYTES + 1), OCI_MANIFEST)
