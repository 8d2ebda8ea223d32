"""Spec checks on manifests that the Go conformance suite does not make.

Each test cites the distribution-spec v1.1 sentence (or DESIGN.md rule) it holds the
registry to.
"""

from __future__ import annotations

import json

import httpx
import pytest
from oci import (
    MEDIA_DOCKER_LIST,
    MEDIA_INDEX,
    MEDIA_MANIFEST,
    MEDIA_SCHEMA1,
    MEDIA_SCHEMA1_SIGNED,
    Blob,
    Manifest,
    artifact_manifest,
    check_error,
    check_status,
    config_blob,
    describe,
    digest_of,
    docker_manifest,
    empty_blob,
    image_manifest,
    index_manifest,
    location,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
    random_blob,
    relative_location,
    schema1_manifest,
    tag_list,
    unique_repo,
)

MIB = 1024 * 1024


def _blobs(client: httpx.Client, repo: str) -> tuple[Blob, Blob]:
    config, layer = config_blob(), random_blob(128)
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    return config, layer


def _ctype(resp: httpx.Response) -> str:
    return str(resp.headers.get("Content-Type", ""))


# ----------------------------------------------------------------------- PUT / GET / HEAD


def test_put_manifest_response_headers(client: httpx.Client) -> None:
    """"Upon a successful upload, the registry MUST return response code 201 Created, and MUST have the
    following header: Location" (a pullable manifest URL); "The Docker-Content-Digest header returns the
    canonical digest of the uploaded blob, and MUST be equal to the client provided digest."""
    repo = unique_repo("put-headers")
    config, layer = _blobs(client, repo)
    m = image_manifest(config, [layer])
    for ref in (m.digest, "v1"):
        resp = put_manifest(client, repo, ref, m)
        check_status(resp, 201)
        assert resp.headers.get("Docker-Content-Digest") == m.digest, describe(resp)
        got = client.get(location(resp), headers={"Accept": MEDIA_MANIFEST})
        check_status(got, 200)
        assert got.content == m.content


def test_manifest_stored_byte_for_byte(client: httpx.Client) -> None:
    """"The registry MUST store the manifest in the exact byte representation provided by the client":
    odd whitespace, key order and a trailing newline survive; the digest is of those bytes."""
    repo = unique_repo("exact-bytes")
    config, layer = _blobs(client, repo)
    doc = {"layers": [layer.descriptor("application/vnd.oci.image.layer.v1.tar")],
           "config": config.descriptor("application/vnd.oci.image.config.v1+json"),
           "mediaType": MEDIA_MANIFEST, "schemaVersion": 2}
    raw = b"  " + json.dumps(doc, indent=3).encode() + b"\n\n"
    m = Manifest(raw, MEDIA_MANIFEST)
    check_status(put_manifest(client, repo, "odd", m), 201)
    for ref in ("odd", m.digest):
        got = client.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": MEDIA_MANIFEST})
        check_status(got, 200)
        assert got.content == raw
        assert got.headers.get("Docker-Content-Digest") == digest_of(raw), describe(got)


def test_get_manifest_content_type(client: httpx.Client) -> None:
    """"In a successful response, the Content-Type header will indicate the type of the returned
    manifest. The registry SHOULD NOT include parameters on the Content-Type header ... SHOULD match what
    the client pushed"; "The registry SHOULD ignore parameters on the Content-Type header" of a PUT."""
    repo = unique_repo("content-type")
    manifest, _, _ = push_image(client, repo, "plain")
    resp = put_manifest(client, repo, "param", manifest, content_type=MEDIA_MANIFEST + "; charset=utf-8")
    check_status(resp, 201)
    for ref in ("plain", "param", manifest.digest):
        got = client.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": MEDIA_MANIFEST})
        check_status(got, 200)
        assert _ctype(got) == MEDIA_MANIFEST, describe(got)


def test_head_manifest_headers_and_no_body(client: httpx.Client) -> None:
    """"A HEAD request to an existing ... manifest URL MUST return 200 OK" with Docker-Content-Digest and
    Content-Length (SHOULD), the Content-Type of a GET, and no body."""
    repo = unique_repo("head-manifest")
    manifest, _, _ = push_image(client, repo, "latest")
    for ref in ("latest", manifest.digest):
        resp = client.head(f"/v2/{repo}/manifests/{ref}", headers={"Accept": MEDIA_MANIFEST})
        check_status(resp, 200)
        assert resp.headers.get("Docker-Content-Digest") == manifest.digest, describe(resp)
        assert resp.headers.get("Content-Length") == str(manifest.size), describe(resp)
        assert _ctype(resp) == MEDIA_MANIFEST, describe(resp)
        assert resp.content == b""
    missing = client.head(f"/v2/{repo}/manifests/nope")
    check_status(missing, 404)
    assert missing.content == b""


def test_get_unknown_manifest_is_manifest_unknown(client: httpx.Client) -> None:
    """"If the manifest is not found in the repository, the response code MUST be 404 Not Found."""
    repo = unique_repo("unknown-manifest")
    push_image(client, repo, "latest")
    check_error(client.get(f"/v2/{repo}/manifests/nope"), 404, "MANIFEST_UNKNOWN")
    check_error(client.get(f"/v2/{repo}/manifests/{digest_of(b'nothing')}"), 404, "MANIFEST_UNKNOWN")


def test_nonexistent_repository_404(client: httpx.Client) -> None:
    """"An attempt to pull a nonexistent repository MUST return response code 404 Not Found"; the tags
    list of a repository that does not exist is end-8a's 404 (NAME_UNKNOWN)."""
    repo = unique_repo("never-pushed")
    check_error(client.get(f"/v2/{repo}/manifests/latest"), 404, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
    check_status(client.head(f"/v2/{repo}/manifests/latest"), 404)
    check_error(client.get(f"/v2/{repo}/tags/list"), 404, "NAME_UNKNOWN")
    check_error(client.get(f"/v2/{repo}/blobs/{digest_of(b'x')}"), 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")


def test_tag_overwrite_leaves_old_manifest_by_digest(client: httpx.Client) -> None:
    """DESIGN.md: a tag is a movable pointer; overwriting it leaves the old manifest untagged, still
    pullable by digest."""
    repo = unique_repo("retag")
    first, _, _ = push_image(client, repo, "latest")
    second, _, _ = push_image(client, repo, "latest")
    got = client.get(f"/v2/{repo}/manifests/latest", headers={"Accept": MEDIA_MANIFEST})
    check_status(got, 200)
    assert got.content == second.content
    old = client.get(f"/v2/{repo}/manifests/{first.digest}", headers={"Accept": MEDIA_MANIFEST})
    check_status(old, 200)
    assert old.content == first.content


def test_manifest_with_no_layers_accepted(client: httpx.Client) -> None:
    """"The uploaded manifest MUST reference any blobs that make up the object. However, the list of
    blobs MAY be empty." (a warning only in the Go suite)."""
    repo = unique_repo("no-layers")
    config = config_blob()
    push_blob(client, repo, config)
    check_status(put_manifest(client, repo, "empty", image_manifest(config, [])), 201)


def test_tag_grammar(client: httpx.Client) -> None:
    """"<reference> as a tag MUST be at most 128 characters in length and MUST match
    [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}": the longest tag is accepted, longer or malformed ones are not."""
    repo = unique_repo("tag-grammar")
    manifest, _, _ = push_image(client, repo, "ok")
    longest = "A" + "b" * 127
    check_status(put_manifest(client, repo, longest, manifest), 201)
    assert longest in tag_list(client.get(f"/v2/{repo}/tags/list"))
    for bad in ("a" * 129, "-dash", ".dot", "colon:tag"):
        resp = put_manifest(client, repo, bad, manifest)
        check_error(resp, (400, 404), "TAG_INVALID", "MANIFEST_INVALID", "DIGEST_INVALID", "NAME_INVALID")


# ------------------------------------------------------------------- digests and sha512


def test_put_by_digest_mismatch_is_digest_invalid(client: httpx.Client) -> None:
    """The digest in the URL must be the content's ("MUST be equal to the client provided digest"):
    a mismatch is refused with DIGEST_INVALID and nothing is stored."""
    repo = unique_repo("manifest-digest-mismatch")
    config, layer = _blobs(client, repo)
    m = image_manifest(config, [layer])
    wrong = digest_of(m.content + b" ")
    check_error(put_manifest(client, repo, wrong, m), 400, "DIGEST_INVALID")
    check_status(client.head(f"/v2/{repo}/manifests/{wrong}"), 404)
    check_status(client.head(f"/v2/{repo}/manifests/{m.digest}"), 404)


def test_sha512_manifest_reference(client: httpx.Client) -> None:
    """A manifest pushed by its sha512 digest: 201 with Docker-Content-Digest "equal to the client provided
    digest", pullable by that digest, with layers referenced by sha512 digests too."""
    repo = unique_repo("sha512-manifest")
    config = config_blob()
    layer = random_blob(200, algorithm="sha512")
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    m = image_manifest(config, [layer], algorithm="sha512")
    assert m.digest.startswith("sha512:")
    resp = put_manifest(client, repo, m.digest, m)
    check_status(resp, 201)
    assert resp.headers.get("Docker-Content-Digest") == m.digest, describe(resp)
    got = client.get(f"/v2/{repo}/manifests/{m.digest}", headers={"Accept": MEDIA_MANIFEST})
    check_status(got, 200)
    assert got.content == m.content
    check_status(client.head(f"/v2/{repo}/manifests/{m.digest}"), 200)


# --------------------------------------------------------------- MANIFEST_BLOB_UNKNOWN


def test_manifest_referencing_missing_layer(client: httpx.Client) -> None:
    """"A registry MAY reject a manifest ... with descriptors in other fields that reference a manifest or
    blob that does not exist ... When a manifest is rejected for this reason, it MUST result in one or
    more MANIFEST_BLOB_UNKNOWN errors." Cargohold rejects (DESIGN.md: core verifies manifests)."""
    repo = unique_repo("missing-layer")
    config = config_blob()
    push_blob(client, repo, config)
    m = image_manifest(config, [random_blob(50)])
    check_error(put_manifest(client, repo, "latest", m), 400, "MANIFEST_BLOB_UNKNOWN")
    check_status(client.head(f"/v2/{repo}/manifests/latest"), 404)


def test_manifest_referencing_missing_config(client: httpx.Client) -> None:
    repo = unique_repo("missing-config")
    layer = random_blob(50)
    push_blob(client, repo, layer)
    m = image_manifest(config_blob(), [layer])
    check_error(put_manifest(client, repo, "latest", m), 400, "MANIFEST_BLOB_UNKNOWN")


def test_manifest_referencing_blob_of_another_repository(client: httpx.Client) -> None:
    """A blob held only by another repository is unknown here (MANIFEST_BLOB_UNKNOWN) until mounted."""
    repo_a, repo_b = unique_repo("mbu-a"), unique_repo("mbu-b")
    config, layer = _blobs(client, repo_a)
    push_blob(client, repo_b, config)
    m = image_manifest(config, [layer])
    check_error(put_manifest(client, repo_b, "latest", m), 400, "MANIFEST_BLOB_UNKNOWN")
    resp = client.post(f"/v2/{repo_b}/blobs/uploads/", params={"mount": layer.digest, "from": repo_a},
                       content=b"")
    check_status(resp, 201)
    check_status(put_manifest(client, repo_b, "latest", m), 201)


def test_index_referencing_missing_manifest(client: httpx.Client) -> None:
    """The same rule for an index's `manifests`: accepted, or rejected with MANIFEST_BLOB_UNKNOWN."""
    repo = unique_repo("index-missing-child")
    present, _, _ = push_image(client, repo)
    config, layer = _blobs(client, repo)
    absent = image_manifest(config, [layer])
    idx = index_manifest([present, absent])
    resp = put_manifest(client, repo, "multi", idx)
    if resp.status_code != 201:
        check_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")


def test_index_round_trip(client: httpx.Client) -> None:
    """An image index over pushed manifests is stored and served with its media type."""
    repo = unique_repo("index")
    m1, _, _ = push_image(client, repo)
    m2, _, _ = push_image(client, repo)
    idx = index_manifest([m1, m2])
    resp = put_manifest(client, repo, "multi", idx)
    check_status(resp, 201)
    assert resp.headers.get("Docker-Content-Digest") == idx.digest
    got = client.get(f"/v2/{repo}/manifests/multi", headers={"Accept": MEDIA_INDEX})
    check_status(got, 200)
    assert got.content == idx.content
    assert _ctype(got) == MEDIA_INDEX


def test_docker_schema2_and_manifest_list(client: httpx.Client) -> None:
    """DESIGN.md: Docker schema2 manifests and manifest lists are stored and served as pushed."""
    repo = unique_repo("docker-v2")
    config, layer = _blobs(client, repo)
    m = docker_manifest(config, [layer])
    check_status(put_manifest(client, repo, "docker", m), 201)
    got = client.get(f"/v2/{repo}/manifests/docker", headers={"Accept": m.media_type})
    check_status(got, 200)
    assert got.content == m.content
    assert _ctype(got) == m.media_type
    lst = index_manifest([m], media_type=MEDIA_DOCKER_LIST)
    check_status(put_manifest(client, repo, "list", lst), 201)
    got = client.get(f"/v2/{repo}/manifests/list", headers={"Accept": MEDIA_DOCKER_LIST})
    check_status(got, 200)
    assert _ctype(got) == MEDIA_DOCKER_LIST


@pytest.mark.parametrize("media_type", [MEDIA_SCHEMA1_SIGNED, MEDIA_SCHEMA1])
def test_docker_schema1_rejected(client: httpx.Client, media_type: str) -> None:
    """Docker image manifest schema 1 is deprecated and not stored (Distribution refuses it too); the
    refusal is a 4xx with MANIFEST_INVALID or UNSUPPORTED ("the operation is unsupported")."""
    repo = unique_repo("schema1")
    layer = random_blob(30)
    push_blob(client, repo, layer)
    m = schema1_manifest(repo, "old", layer)
    resp = put_manifest(client, repo, "old", m, content_type=media_type)
    check_error(resp, (400, 415), "MANIFEST_INVALID", "UNSUPPORTED")
    check_status(client.head(f"/v2/{repo}/manifests/old"), 404)


def test_subject_may_reference_missing_manifest(client: httpx.Client) -> None:
    """"A registry MUST initially accept an otherwise valid manifest with a subject field that references
    a manifest that does not exist in the repository", answering OCI-Subject."""
    repo = unique_repo("dangling-subject")
    config, layer = _blobs(client, repo)
    subject = image_manifest(config, [layer])  # never pushed
    push_blob(client, repo, empty_blob())
    art = artifact_manifest("application/vnd.example.sig", [], subject=subject)
    resp = put_manifest(client, repo, art.digest, art)
    check_status(resp, 201)
    assert resp.headers.get("OCI-Subject") == subject.digest, describe(resp)


# ------------------------------------------------------------------------- size limits


def _padded_manifest(config: Blob, layer: Blob, total: int) -> Manifest:
    """An image manifest of exactly `total` bytes, padded with an annotation."""
    base = image_manifest(config, [layer], annotations={"pad": ""}, go_style=False)
    pad = total - base.size
    assert pad >= 0
    m = image_manifest(config, [layer], annotations={"pad": "x" * pad}, go_style=False)
    assert m.size == total, (m.size, total)
    return m


def test_manifest_of_4_megabytes_accepted(client: httpx.Client) -> None:
    """"Client and registry implementations SHOULD expect to be able to support manifest pushes of at
    least 4 megabytes." (4 000 000 bytes)."""
    repo = unique_repo("manifest-4mb")
    config, layer = _blobs(client, repo)
    m = _padded_manifest(config, layer, 4_000_000)
    check_status(put_manifest(client, repo, "big", m), 201)
    got = client.get(f"/v2/{repo}/manifests/{m.digest}", headers={"Accept": MEDIA_MANIFEST})
    check_status(got, 200)
    assert got.content == m.content


def test_manifest_over_4_mib_rejected(client: httpx.Client) -> None:
    """"A registry SHOULD enforce some limit on the maximum manifest size ... SHOULD respond to a request
    to push a manifest over this limit with a response code 413 Payload Too Large." Cargohold's limit is
    4 MiB (Distribution's too): 4 MiB + 1 byte is refused, and nothing is stored."""
    repo = unique_repo("manifest-too-big")
    config, layer = _blobs(client, repo)
    m = _padded_manifest(config, layer, 4 * MIB + 1)
    resp = put_manifest(client, repo, "huge", m)
    check_status(resp, 413)
    check_status(client.head(f"/v2/{repo}/manifests/huge"), 404)


# -------------------------------------------------------------------------- deletion


def test_delete_manifest_removes_it_and_its_tags(client: httpx.Client) -> None:
    """Deleting manifests: "Upon success, the registry MUST respond with a 202 Accepted code ... Once
    deleted, a GET to /v2/<name>/manifests/<digest> and any tag pointing to that digest will return a
    404."""
    repo = unique_repo("delete-manifest")
    keep, _, _ = push_image(client, repo, "keep")
    manifest, _, _ = push_image(client, repo, "t1")
    push_manifest(client, repo, "t2", manifest)
    check_status(client.delete(f"/v2/{repo}/manifests/{manifest.digest}"), 202)
    check_error(client.get(f"/v2/{repo}/manifests/{manifest.digest}"), 404, "MANIFEST_UNKNOWN")
    for tag in ("t1", "t2"):
        check_error(client.get(f"/v2/{repo}/manifests/{tag}"), 404, "MANIFEST_UNKNOWN")
    assert tag_list(client.get(f"/v2/{repo}/tags/list")) == ["keep"]
    check_status(client.get(f"/v2/{repo}/manifests/{keep.digest}"), 200)


def test_delete_tag_keeps_other_tags(client: httpx.Client) -> None:
    """Deleting tags: "Upon success, the registry MUST respond with a 202 Accepted code ... Once deleted,
    a GET to /v2/<name>/manifests/<tag> will return a 404." Another tag of the same manifest remains."""
    repo = unique_repo("delete-tag")
    manifest, _, _ = push_image(client, repo, "a")
    push_manifest(client, repo, "b", manifest)
    check_status(client.delete(f"/v2/{repo}/manifests/a"), 202)
    check_error(client.get(f"/v2/{repo}/manifests/a"), 404, "MANIFEST_UNKNOWN")
    got = client.get(f"/v2/{repo}/manifests/b", headers={"Accept": MEDIA_MANIFEST})
    check_status(got, 200)
    assert got.content == manifest.content
    assert tag_list(client.get(f"/v2/{repo}/tags/list")) == ["b"]


def test_delete_unknown_manifest_404(client: httpx.Client) -> None:
    """end-9 failure 404: deleting a manifest or tag the repository does not have (MANIFEST_UNKNOWN)."""
    repo = unique_repo("delete-unknown-manifest")
    push_image(client, repo, "latest")
    check_error(client.delete(f"/v2/{repo}/manifests/{digest_of(b'none')}"), 404, "MANIFEST_UNKNOWN")
    check_error(client.delete(f"/v2/{repo}/manifests/notatag"), 404, "MANIFEST_UNKNOWN")


def test_location_of_manifest_put_is_repository_path(client: httpx.Client) -> None:
    """The Location of a manifest PUT names this repository's manifest (a pullable manifest URL)."""
    repo = unique_repo("manifest-location")
    config, layer = _blobs(client, repo)
    m = image_manifest(config, [layer])
    resp = put_manifest(client, repo, "v1", m)
    check_status(resp, 201)
    assert relative_location(resp).startswith(f"/v2/{repo}/manifests/"), describe(resp)
