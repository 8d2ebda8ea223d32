"""Port of the OCI conformance suite's Pull workflow (conformance/01_pull_test.go, v1.1).

Setup pushes two configs, the layer, manifest[0] under tag `tagtest0` and manifest[1]
by digest into a repository of its own; the checks then pull them back.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from oci import (
    DUMMY_DIGEST,
    INVALID_MANIFEST_CONTENT,
    MEDIA_MANIFEST,
    NONEXISTENT_MANIFEST,
    OCI_ERROR_CODES,
    Blob,
    Manifest,
    check_2xx,
    check_status,
    config_blob,
    describe,
    error_codes,
    image_manifest,
    layer_blob,
    push_blob,
    put_manifest,
    unique_repo,
)

TEST_TAG = "tagtest0"
ACCEPT = {"Accept": MEDIA_MANIFEST}


@dataclass
class PullContent:
    repo: str
    configs: list[Blob]
    layer: Blob
    manifests: list[Manifest]
    tag: str


@pytest.fixture(scope="module")
def content(client: httpx.Client) -> PullContent:
    repo = unique_repo("pull")
    configs = [config_blob(), config_blob()]
    layer = layer_blob()
    manifests = [image_manifest(c, [layer]) for c in configs]
    # "Populate registry with test blob" (x2), "Populate registry with test layer"
    for blob in (*configs, layer):
        push_blob(client, repo, blob)
    # "Populate registry with test manifest": manifest[0] by tag, manifest[1] by digest
    check_2xx(put_manifest(client, repo, TEST_TAG, manifests[0]))
    check_2xx(put_manifest(client, repo, manifests[1].digest, manifests[1]))
    return PullContent(repo, configs, layer, manifests, TEST_TAG)


def test_api_version_check(client: httpx.Client) -> None:
    """end-1: `GET /v2/` answers 200 when the registry implements the spec (to an authenticated client)."""
    resp = client.get("/v2/")
    check_status(resp, 200)


# ----------------------------------------------------------------------------- Pull blobs


def test_head_nonexistent_blob_404(client: httpx.Client, content: PullContent) -> None:
    """HEAD request to nonexistent blob should result in 404 response."""
    check_status(client.head(f"/v2/{content.repo}/blobs/{DUMMY_DIGEST}"), 404)


def test_head_existing_blob_200(client: httpx.Client, content: PullContent) -> None:
    """HEAD request to existing blob should yield 200 (Docker-Content-Digest, if set, is the digest)."""
    cfg = content.configs[0]
    resp = client.head(f"/v2/{content.repo}/blobs/{cfg.digest}")
    check_status(resp, 200)
    if h := resp.headers.get("Docker-Content-Digest"):
        assert h == cfg.digest, describe(resp)


def test_get_nonexistent_blob_404(client: httpx.Client, content: PullContent) -> None:
    """GET nonexistent blob should result in 404 response."""
    check_status(client.get(f"/v2/{content.repo}/blobs/{DUMMY_DIGEST}"), 404)


def test_get_existing_blob_200(client: httpx.Client, content: PullContent) -> None:
    """GET request to existing blob URL should yield 200 (and the blob; spec: "MUST provide the expected blob")."""
    cfg = content.configs[0]
    resp = client.get(f"/v2/{content.repo}/blobs/{cfg.digest}")
    check_status(resp, 200)
    assert resp.content == cfg.content
    if h := resp.headers.get("Docker-Content-Digest"):
        assert h == cfg.digest, describe(resp)


# ------------------------------------------------------------------------- Pull manifests


def test_head_nonexistent_manifest_404(client: httpx.Client, content: PullContent) -> None:
    """HEAD request to nonexistent manifest should return 404."""
    check_status(client.head(f"/v2/{content.repo}/manifests/{NONEXISTENT_MANIFEST}"), 404)


@pytest.mark.parametrize("index", [0, 1])
def test_head_manifest_by_digest_200(client: httpx.Client, content: PullContent, index: int) -> None:
    """HEAD request to manifest[i] path (digest) should yield 200 response."""
    m = content.manifests[index]
    resp = client.head(f"/v2/{content.repo}/manifests/{m.digest}", headers=ACCEPT)
    check_status(resp, 200)
    if h := resp.headers.get("Docker-Content-Digest"):
        assert h == m.digest, describe(resp)


def test_head_manifest_by_tag_200(client: httpx.Client, content: PullContent) -> None:
    """HEAD request to manifest path (tag) should yield 200 response."""
    resp = client.head(f"/v2/{content.repo}/manifests/{content.tag}", headers=ACCEPT)
    check_status(resp, 200)
    if h := resp.headers.get("Docker-Content-Digest"):
        assert h == content.manifests[0].digest, describe(resp)


def test_get_nonexistent_manifest_404(client: httpx.Client, content: PullContent) -> None:
    """GET nonexistent manifest should return 404."""
    check_status(client.get(f"/v2/{content.repo}/manifests/{NONEXISTENT_MANIFEST}"), 404)


@pytest.mark.parametrize("index", [0, 1])
def test_get_manifest_by_digest_200(client: httpx.Client, content: PullContent, index: int) -> None:
    """GET request to manifest[i] path (digest) should yield 200 response (with the pushed bytes)."""
    m = content.manifests[index]
    resp = client.get(f"/v2/{content.repo}/manifests/{m.digest}", headers=ACCEPT)
    check_status(resp, 200)
    assert resp.content == m.content, "registry MUST store the manifest in the exact byte representation"


def test_get_manifest_by_tag_200(client: httpx.Client, content: PullContent) -> None:
    """GET request to manifest path (tag) should yield 200 response."""
    resp = client.get(f"/v2/{content.repo}/manifests/{content.tag}", headers=ACCEPT)
    check_status(resp, 200)
    assert resp.content == content.manifests[0].content


# ---------------------------------------------------------------------------- Error codes


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_400_body_is_oci_error_json(client: httpx.Client, content: PullContent, method: str) -> None:
    """400 response body should contain OCI-conforming JSON message.

    The v1.1 suite sends GET (v1.0 sent PUT) to `manifests/sha256:totallywrong` with the body
    `blablabla`; 400 or 404 is accepted, and a 400 must carry a known error code.
    """
    resp = client.request(method, f"/v2/{content.repo}/manifests/sha256:totallywrong",
                          content=INVALID_MANIFEST_CONTENT, headers={"Content-Type": MEDIA_MANIFEST})
    check_status(resp, 400, 404)
    if resp.status_code == 400:
        codes = error_codes(resp)
        assert codes[0] in OCI_ERROR_CODES, describe(resp)


# ------------------------------------------------------------------------------- Teardown


def test_teardown_deletes(client: httpx.Client, content: PullContent) -> None:
    """Teardown (OCI_DELETE_MANIFEST_BEFORE_BLOBS default): manifests 2xx/405, then blobs 2xx/404/405."""
    for m in content.manifests:
        resp = client.delete(f"/v2/{content.repo}/manifests/{m.digest}")
        assert 200 <= resp.status_code < 300 or resp.status_code == 405, describe(resp)
    for blob in (*content.configs, content.layer):
        resp = client.delete(f"/v2/{content.repo}/blobs/{blob.digest}")
        assert 200 <= resp.status_code < 300 or resp.status_code in (404, 405), describe(resp)
