"""Port of the OCI conformance suite's Content Management workflow (conformance/04_management_test.go, v1.1).

The Go suite runs every workflow in one namespace, so the repository still holds other
tags when the management checks delete theirs; each test here pushes such an extra tag
(`other`) beside `tagtest0` to keep that situation.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from oci import (
    Blob,
    Manifest,
    check_2xx,
    check_error,
    check_status,
    config_blob,
    describe,
    image_manifest,
    layer_blob,
    push_blob,
    push_image,
    put_manifest,
    tag_list,
    unique_repo,
)

DEFAULT_TAG = "tagtest0"


@dataclass
class ManagementContent:
    repo: str
    config: Blob
    layer: Blob
    manifest: Manifest
    num_tags: int


def _setup(client: httpx.Client) -> ManagementContent:
    repo = unique_repo("management")
    push_image(client, repo, "other")  # the rest of the shared namespace
    config = config_blob()
    layer = layer_blob()
    # Populate registry with test config blob / test layer / test tag
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    manifest = image_manifest(config, [layer])
    check_2xx(put_manifest(client, repo, DEFAULT_TAG, manifest))
    # Check how many tags there are before anything gets deleted
    num_tags = len(tag_list(client.get(f"/v2/{repo}/tags/list")))
    return ManagementContent(repo, config, layer, manifest, num_tags)


def test_manifest_delete(client: httpx.Client) -> None:
    c = _setup(client)
    # DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)
    resp = client.delete(f"/v2/{c.repo}/manifests/{DEFAULT_TAG}")
    check_status(resp, 202, 400, 405)
    if resp.status_code == 400:
        check_error(resp, 400, "UNSUPPORTED")
    # DELETE request to manifest (digest) should yield 202 response unless already deleted
    resp = client.delete(f"/v2/{c.repo}/manifests/{c.manifest.digest}")
    check_status(resp, 202, 404)
    # GET request to deleted manifest URL should yield 404 response, unless delete is disallowed
    resp = client.get(f"/v2/{c.repo}/manifests/{c.manifest.digest}")
    check_status(resp, 404, 200)
    # GET request to tags list should reflect manifest deletion
    tags = tag_list(client.get(f"/v2/{c.repo}/tags/list"))
    assert len(tags) < c.num_tags, tags


def test_blob_delete(client: httpx.Client) -> None:
    c = _setup(client)
    client.delete(f"/v2/{c.repo}/manifests/{c.manifest.digest}")
    # DELETE request to blob URL should yield 202 response (config blob, then layer blob)
    resp = client.delete(f"/v2/{c.repo}/blobs/{c.config.digest}")
    check_status(resp, 202, 404, 405)
    resp = client.delete(f"/v2/{c.repo}/blobs/{c.layer.digest}")
    check_status(resp, 202, 404, 405)
    blob_delete_allowed = resp.status_code != 405
    # GET request to deleted blob URL should yield 404 response
    if blob_delete_allowed:
        resp = client.get(f"/v2/{c.repo}/blobs/{c.config.digest}")
        check_status(resp, 404)


def test_delete_responses_are_described(client: httpx.Client) -> None:
    """All of the above against a repository that holds only the tag: no 5xx, 4xx with OCI error JSON."""
    repo = unique_repo("management-single")
    manifest, config, layers = push_image(client, repo, DEFAULT_TAG)
    for path in (f"manifests/{DEFAULT_TAG}", f"manifests/{manifest.digest}",
                 f"blobs/{config.digest}", f"blobs/{layers[0].digest}"):
        resp = client.delete(f"/v2/{repo}/{path}")
        assert resp.status_code in (202, 400, 404, 405), describe(resp)
