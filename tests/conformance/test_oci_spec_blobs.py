"""Spec checks on blobs and uploads that the Go conformance suite does not make.

Each test cites the distribution-spec v1.1 sentence (or DESIGN.md rule) it holds the
registry to.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from oci import (
    DUMMY_DIGEST,
    OCTET,
    Blob,
    check_error,
    check_status,
    describe,
    digest_of,
    location,
    make_client,
    push_blob,
    random_blob,
    random_bytes,
    range_header_ok,
    relative_location,
    start_upload,
    unique_repo,
)

from support import RegistryServer

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")

# ----------------------------------------------------------------------------- HEAD / GET


def test_head_blob_headers_and_no_body(client: httpx.Client) -> None:
    """"A HEAD request to an existing blob ... MUST return 200 OK. A successful response SHOULD contain
    the digest ... in the header Docker-Content-Digest ... SHOULD contain the size in bytes ... in the
    header Content-Length."""
    repo = unique_repo("head-blob")
    blob = random_blob(1234)
    push_blob(client, repo, blob)
    resp = client.head(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(resp, 200)
    assert resp.headers.get("Docker-Content-Digest") == blob.digest, describe(resp)
    assert resp.headers.get("Content-Length") == str(blob.size), describe(resp)
    assert resp.content == b""
    missing = client.head(f"/v2/{repo}/blobs/{DUMMY_DIGEST}")
    check_status(missing, 404)
    assert missing.content == b""


def test_get_blob_headers(client: httpx.Client) -> None:
    """"A successful response SHOULD contain the digest of the uploaded blob in the header
    Docker-Content-Digest. If present, the value of this header MUST be a digest matching that of the
    response body." Content-Length is the blob size."""
    repo = unique_repo("get-blob")
    blob = random_blob(4096)
    push_blob(client, repo, blob)
    resp = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(resp, 200)
    assert resp.content == blob.content
    assert resp.headers.get("Docker-Content-Digest") == blob.digest, describe(resp)
    assert resp.headers.get("Content-Length") == str(blob.size)


def test_get_unknown_blob_is_blob_unknown(client: httpx.Client) -> None:
    """"If the blob is not found in the repository, the response code MUST be 404 Not Found" (BLOB_UNKNOWN)."""
    repo = unique_repo("unknown-blob")
    push_blob(client, repo, random_blob())
    check_error(client.get(f"/v2/{repo}/blobs/{DUMMY_DIGEST}"), 404, "BLOB_UNKNOWN")


def test_empty_blob_round_trip(client: httpx.Client) -> None:
    """A zero-length blob is a blob like any other (e.g. empty layers in real images)."""
    repo = unique_repo("zero-blob")
    blob = Blob(b"")
    push_blob(client, repo, blob)
    resp = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(resp, 200)
    assert resp.content == b""
    head = client.head(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(head, 200)
    assert head.headers.get("Content-Length") == "0"


def test_reupload_existing_blob(client: httpx.Client) -> None:
    """Pushing a blob the repository already holds succeeds again with 201 (layer de-duplication use case)."""
    repo = unique_repo("reupload")
    blob = random_blob(100)
    push_blob(client, repo, blob)
    resp = start_upload(client, repo)
    resp = client.put(location(resp), params={"digest": blob.digest}, content=blob.content,
                      headers={"Content-Type": OCTET})
    check_status(resp, 201)


# ---------------------------------------------------------------------------------- Range

RANGE_BLOB_SIZE = 1000


@pytest.fixture(scope="module")
def range_blob(client: httpx.Client) -> tuple[str, Blob]:
    repo = unique_repo("range")
    blob = random_blob(RANGE_BLOB_SIZE)
    push_blob(client, repo, blob)
    return repo, blob


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-9", 0, 9),
    ("bytes=10-19", 10, 19),
    ("bytes=990-", 990, 999),
    ("bytes=-10", 990, 999),
    ("bytes=995-5000", 995, 999),
    ("bytes=0-0", 0, 0),
    ("bytes=999-999", 999, 999),
])
def test_range_get_206(client: httpx.Client, range_blob: tuple[str, Blob], header: str, start: int,
                       end: int) -> None:
    """"A registry SHOULD support the Range request header in accordance with RFC 9110": 206 with
    Content-Range `bytes first-last/complete-length` and exactly those bytes."""
    repo, blob = range_blob
    resp = client.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": header})
    check_status(resp, 206)
    assert resp.headers.get("Content-Range") == f"bytes {start}-{end}/{blob.size}", describe(resp)
    assert resp.content == blob.content[start:end + 1]
    assert resp.headers.get("Content-Length") == str(end - start + 1)


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=1000-1000"])
def test_range_get_unsatisfiable_416(client: httpx.Client, range_blob: tuple[str, Blob], header: str) -> None:
    """RFC 9110 §15.5.17: a range starting at or past the end is not satisfiable -> 416 with
    `Content-Range: bytes */<complete-length>`."""
    repo, blob = range_blob
    resp = client.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": header})
    check_status(resp, 416)
    assert resp.headers.get("Content-Range") == f"bytes */{blob.size}", describe(resp)


def test_range_unknown_unit_ignored(client: httpx.Client, range_blob: tuple[str, Blob]) -> None:
    """RFC 9110 §14.2: "An origin server MUST ignore a Range header field that contains a range unit it
    does not understand" -> the whole blob with 200."""
    repo, blob = range_blob
    resp = client.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": "items=0-5"})
    check_status(resp, 200)
    assert resp.content == blob.content


def test_range_invalid_spec_not_5xx(client: httpx.Client, range_blob: tuple[str, Blob]) -> None:
    """RFC 9110 §14.2: a server "MAY ignore or reject a Range header field that contains an invalid
    ranges-specifier" -> 200 (ignored) or 416, never an error."""
    repo, blob = range_blob
    for header in ("bytes=9-1", "bytes=abc", "bytes=", "bytes=--1"):
        resp = client.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": header})
        check_status(resp, 200, 206, 416)
        if resp.status_code == 200:
            assert resp.content == blob.content


# ------------------------------------------------------------------------ upload sessions


def test_get_upload_status_204(client: httpx.Client) -> None:
    """end-13: "The response to an active upload <location> MUST be a 204 No Content response code, and
    MUST have the following headers: Location: <location>, Range: 0-<end-of-range>"."""
    repo = unique_repo("upload-status")
    resp = start_upload(client, repo)
    check_status(resp, 202)
    status = client.get(location(resp))
    check_status(status, 204)
    location(status)
    if "Range" in status.headers:  # nothing uploaded yet: no meaningful end-of-range
        assert status.headers["Range"].startswith("0-"), describe(status)
    data = random_bytes(300)
    resp = client.patch(location(status), content=data,
                        headers={"Content-Type": OCTET, "Content-Range": "0-299"})
    check_status(resp, 202)
    assert range_header_ok(resp.headers.get("Range")), describe(resp)
    status = client.get(location(resp))
    check_status(status, 204)
    location(status)
    assert status.headers.get("Range") == "0-299", describe(status)


def test_delete_upload(client: httpx.Client) -> None:
    """Cancel a blob upload: "If successful, the response SHOULD be a 204 No Content"; the session is
    then gone (GET/PATCH/PUT on it: 404 BLOB_UPLOAD_UNKNOWN)."""
    repo = unique_repo("upload-cancel")
    resp = start_upload(client, repo)
    upload = location(resp)
    resp = client.patch(upload, content=b"abc", headers={"Content-Type": OCTET, "Content-Range": "0-2"})
    check_status(resp, 202)
    upload = location(resp)
    resp = client.delete(upload)
    check_status(resp, 204)
    check_error(client.get(upload), 404, "BLOB_UPLOAD_UNKNOWN")
    check_error(client.patch(upload, content=b"d", headers={"Content-Type": OCTET}), 404, "BLOB_UPLOAD_UNKNOWN")
    check_error(client.put(upload, params={"digest": digest_of(b"abc")}, content=b""), 404,
                "BLOB_UPLOAD_UNKNOWN")
    check_error(client.delete(upload), 404, "BLOB_UPLOAD_UNKNOWN")


def test_completed_upload_session_is_gone(client: httpx.Client) -> None:
    """Once PUT closes the session (201), its <location> no longer names an active upload: 404
    BLOB_UPLOAD_UNKNOWN (end-13 failure)."""
    repo = unique_repo("upload-closed")
    blob = random_blob()
    resp = start_upload(client, repo)
    upload = location(resp)
    check_status(client.put(upload, params={"digest": blob.digest}, content=blob.content,
                            headers={"Content-Type": OCTET}), 201)
    check_error(client.get(upload), 404, "BLOB_UPLOAD_UNKNOWN")
    check_error(client.patch(upload, content=b"x", headers={"Content-Type": OCTET}), 404, "BLOB_UPLOAD_UNKNOWN")


def test_upload_location_and_blob_location(client: httpx.Client) -> None:
    """The upload <location> "MUST contain a UUID"... the 201's Location is "a pullable blob URL"."""
    repo = unique_repo("upload-location")
    blob = random_blob()
    resp = start_upload(client, repo)
    assert relative_location(resp).startswith(f"/v2/{repo}/blobs/uploads/"), describe(resp)
    assert UUID_RE.search(relative_location(resp)), f"no UUID in the upload location: {describe(resp)}"
    resp = client.put(location(resp), params={"digest": blob.digest}, content=blob.content,
                      headers={"Content-Type": OCTET})
    check_status(resp, 201)
    got = client.get(location(resp))
    check_status(got, 200)
    assert got.content == blob.content


def test_upload_is_bound_to_its_repository(client: httpx.Client) -> None:
    """DESIGN.md: "Uploads are bound to the repository (and principal) that started them": a session
    from repository A used under repository B is unknown there (404 BLOB_UPLOAD_UNKNOWN)."""
    repo_a = unique_repo("bound-a")
    repo_b = unique_repo("bound-b")
    resp = start_upload(client, repo_a)
    path = relative_location(resp)
    assert path.startswith(f"/v2/{repo_a}/"), describe(resp)
    foreign = f"/v2/{repo_b}/" + path[len(f"/v2/{repo_a}/"):]
    blob = random_blob()
    check_error(client.patch(foreign, content=blob.content, headers={"Content-Type": OCTET}), 404,
                "BLOB_UPLOAD_UNKNOWN")
    check_error(client.put(foreign, params={"digest": blob.digest}, content=blob.content,
                           headers={"Content-Type": OCTET}), 404, "BLOB_UPLOAD_UNKNOWN")
    check_status(client.head(f"/v2/{repo_b}/blobs/{blob.digest}"), 404)


def test_chunked_upload_final_chunk_in_put(client: httpx.Client) -> None:
    """"The final chunk MAY be uploaded using a PATCH request or it MAY be uploaded in the closing PUT
    request" with its Content-Range; the closing PUT carries the digest of the whole blob."""
    repo = unique_repo("chunk-put")
    blob = random_blob(100)
    resp = client.post(f"/v2/{repo}/blobs/uploads/", content=b"")
    resp = client.patch(location(resp), content=blob.content[:60],
                        headers={"Content-Type": OCTET, "Content-Range": "0-59"})
    check_status(resp, 202)
    resp = client.put(location(resp), params={"digest": blob.digest}, content=blob.content[60:],
                      headers={"Content-Type": OCTET, "Content-Range": "60-99"})
    check_status(resp, 201)
    got = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(got, 200)
    assert got.content == blob.content


def test_chunked_upload_of_large_blob_over_fresh_connections(client: httpx.Client,
                                                             registry: RegistryServer) -> None:
    """A multi-MiB blob in 1 MiB chunks, each PATCH on a new connection (so on any of the 2 workers);
    the registry must keep the session and its hash state, and serve back the exact bytes."""
    repo = unique_repo("chunk-large")
    mib = 1024 * 1024
    blob = random_blob(5 * mib + 123)
    resp = client.post(f"/v2/{repo}/blobs/uploads/", content=b"")
    upload = location(resp)
    offset = 0
    while offset < blob.size:
        chunk = blob.content[offset:offset + mib]
        with make_client(registry.url, registry.auth) as fresh:
            resp = fresh.patch(upload, content=chunk, headers={
                "Content-Type": OCTET, "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
        check_status(resp, 202)
        assert resp.headers.get("Range") == f"0-{offset + len(chunk) - 1}", describe(resp)
        upload = location(resp)
        offset += len(chunk)
    with make_client(registry.url, registry.auth) as fresh:
        resp = fresh.put(upload, params={"digest": blob.digest}, content=b"")
    check_status(resp, 201)
    got = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(got, 200)
    assert got.content == blob.content


# ---------------------------------------------------------------------------------- sha512


def test_sha512_blob_post_put(client: httpx.Client) -> None:
    """Digests are `algorithm:hex` (OCI image-spec descriptor.md registers sha256 and sha512): a blob
    pushed under its sha512 digest is served under that digest."""
    repo = unique_repo("sha512-put")
    blob = random_blob(777, algorithm="sha512")
    assert blob.digest.startswith("sha512:") and len(blob.digest) == 7 + 128
    resp = push_blob(client, repo, blob)
    check_status(resp, 201)
    got = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(got, 200)
    assert got.content == blob.content
    dcd = got.headers.get("Docker-Content-Digest")
    if dcd:  # "If present, the value of this header MUST be a digest matching that of the response body."
        algorithm = dcd.split(":", 1)[0]
        assert dcd == digest_of(got.content, algorithm), describe(got)
    head = client.head(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(head, 200)
    assert head.headers.get("Content-Length") == str(blob.size)


def test_sha512_blob_single_post(client: httpx.Client) -> None:
    repo = unique_repo("sha512-post")
    blob = random_blob(300, algorithm="sha512")
    resp = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": blob.digest}, content=blob.content,
                       headers={"Content-Type": OCTET})
    check_status(resp, 201, 202)
    if resp.status_code == 202:
        resp = client.put(location(resp), params={"digest": blob.digest}, content=blob.content,
                          headers={"Content-Type": OCTET})
        check_status(resp, 201)
    got = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(got, 200)
    assert got.content == blob.content


def test_sha512_blob_chunked(client: httpx.Client) -> None:
    repo = unique_repo("sha512-chunked")
    blob = random_blob(1000, algorithm="sha512")
    resp = client.post(f"/v2/{repo}/blobs/uploads/", content=b"")
    resp = client.patch(location(resp), content=blob.content[:400],
                        headers={"Content-Type": OCTET, "Content-Range": "0-399"})
    check_status(resp, 202)
    resp = client.patch(location(resp), content=blob.content[400:],
                        headers={"Content-Type": OCTET, "Content-Range": "400-999"})
    check_status(resp, 202)
    resp = client.put(location(resp), params={"digest": blob.digest}, content=b"")
    check_status(resp, 201)
    got = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(got, 200)
    assert got.content == blob.content


def test_sha512_mismatch_is_digest_invalid(client: httpx.Client) -> None:
    repo = unique_repo("sha512-bad")
    blob = random_blob(100, algorithm="sha512")
    wrong = digest_of(b"something else", "sha512")
    resp = start_upload(client, repo)
    resp = client.put(location(resp), params={"digest": wrong}, content=blob.content,
                      headers={"Content-Type": OCTET})
    check_error(resp, 400, "DIGEST_INVALID")


# ---------------------------------------------------------------------- DIGEST_INVALID


def test_put_digest_mismatch_is_digest_invalid(client: httpx.Client) -> None:
    """"the <digest> MUST match the blob's digest"; code-4 DIGEST_INVALID: "provided digest did not match
    uploaded content". Nothing is stored under either digest."""
    repo = unique_repo("digest-mismatch")
    blob = random_blob(64)
    wrong = digest_of(b"not these bytes")
    resp = start_upload(client, repo)
    resp = client.put(location(resp), params={"digest": wrong}, content=blob.content,
                      headers={"Content-Type": OCTET})
    check_error(resp, 400, "DIGEST_INVALID")
    check_status(client.head(f"/v2/{repo}/blobs/{wrong}"), 404)
    check_status(client.head(f"/v2/{repo}/blobs/{blob.digest}"), 404)


def test_single_post_digest_mismatch_is_digest_invalid(client: httpx.Client) -> None:
    """Single POST: "Likewise, the <digest> MUST match the blob's digest" (400 in end-4b failures)."""
    repo = unique_repo("post-mismatch")
    blob = random_blob(64)
    wrong = digest_of(b"not these bytes")
    resp = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": wrong}, content=blob.content,
                       headers={"Content-Type": OCTET})
    if resp.status_code == 202:  # single POST unsupported: the session's PUT must refuse it instead
        resp = client.put(location(resp), params={"digest": wrong}, content=blob.content,
                          headers={"Content-Type": OCTET})
    check_error(resp, 400, "DIGEST_INVALID")
    check_status(client.head(f"/v2/{repo}/blobs/{wrong}"), 404)


def test_chunked_digest_mismatch_is_digest_invalid(client: httpx.Client) -> None:
    repo = unique_repo("chunk-mismatch")
    blob = random_blob(64)
    resp = client.post(f"/v2/{repo}/blobs/uploads/", content=b"")
    resp = client.patch(location(resp), content=blob.content,
                        headers={"Content-Type": OCTET, "Content-Range": "0-63"})
    check_status(resp, 202)
    resp = client.put(location(resp), params={"digest": digest_of(b"other")}, content=b"")
    check_error(resp, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("bad", ["sha256:totallywrong", "sha256:" + "a" * 63, "md5:" + "a" * 32, "nodigest",
                                 "sha256:" + "A" * 64])
def test_malformed_digest_on_put_is_digest_invalid(client: httpx.Client, bad: str) -> None:
    """A malformed or unsupported digest cannot match any content: 400 DIGEST_INVALID (end-6 failure 400)."""
    repo = unique_repo("digest-malformed")
    resp = start_upload(client, repo)
    resp = client.put(location(resp), params={"digest": bad}, content=b"data", headers={"Content-Type": OCTET})
    check_error(resp, 400, "DIGEST_INVALID")


def test_put_without_digest_is_rejected(client: httpx.Client) -> None:
    """"The closing PUT request MUST include the <digest> of the whole blob" -> 400 (DIGEST_INVALID)."""
    repo = unique_repo("digest-missing")
    resp = start_upload(client, repo)
    resp = client.put(location(resp), content=b"data", headers={"Content-Type": OCTET})
    check_error(resp, 400, "DIGEST_INVALID")


# ---------------------------------------------------------------- repository isolation


def test_blob_not_readable_from_another_repository_until_mounted(client: httpx.Client) -> None:
    """A blob is linked to the repositories that pushed or mounted it (DESIGN.md "blob"): pushed to A it
    is BLOB_UNKNOWN in B ("If the blob is not found in the repository, the response code MUST be 404"),
    until B mounts it from A (201, then readable in B); a third repository still cannot read it."""
    repo_a, repo_b, repo_c = (unique_repo(p) for p in ("iso-a", "iso-b", "iso-c"))
    push_blob(client, repo_c, random_blob())  # C exists, without the blob
    blob = random_blob(256)
    push_blob(client, repo_a, blob)
    check_error(client.get(f"/v2/{repo_b}/blobs/{blob.digest}"), 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")
    check_status(client.head(f"/v2/{repo_b}/blobs/{blob.digest}"), 404)
    resp = client.post(f"/v2/{repo_b}/blobs/uploads/", params={"mount": blob.digest, "from": repo_a},
                       content=b"")
    check_status(resp, 201)
    assert relative_location(resp) == f"/v2/{repo_b}/blobs/{blob.digest}", describe(resp)
    got = client.get(f"/v2/{repo_b}/blobs/{blob.digest}")
    check_status(got, 200)
    assert got.content == blob.content
    check_error(client.get(f"/v2/{repo_c}/blobs/{blob.digest}"), 404, "BLOB_UNKNOWN")
    check_status(client.head(f"/v2/{repo_c}/blobs/{blob.digest}"), 404)


def test_mount_of_unknown_blob_starts_session(client: httpx.Client) -> None:
    """"if a registry ... is unable to mount the requested blob, it SHOULD return a 202" (a session),
    e.g. a digest `from` does not hold, or a `from` repository that does not exist."""
    repo_a = unique_repo("mount-missing-a")
    push_blob(client, repo_a, random_blob())
    target = unique_repo("mount-missing-b")
    for src in (repo_a, unique_repo("mount-missing-nowhere")):
        resp = client.post(f"/v2/{target}/blobs/uploads/", params={"mount": DUMMY_DIGEST, "from": src},
                           content=b"")
        check_status(resp, 202)
        assert relative_location(resp).startswith(f"/v2/{target}/blobs/uploads/"), describe(resp)


def test_delete_unknown_blob_404(client: httpx.Client) -> None:
    """Deleting blobs: "If the blob is not found, a 404 Not Found code MUST be returned" (BLOB_UNKNOWN)."""
    repo = unique_repo("delete-unknown-blob")
    push_blob(client, repo, random_blob())
    check_error(client.delete(f"/v2/{repo}/blobs/{DUMMY_DIGEST}"), 404, "BLOB_UNKNOWN")


def test_delete_blob_202_then_404(client: httpx.Client) -> None:
    """Deleting blobs: "Upon success, the registry MUST respond with code 202 Accepted"; afterwards the blob
    is not found in that repository (and only there)."""
    repo, other = unique_repo("delete-blob"), unique_repo("delete-blob-other")
    blob = random_blob()
    push_blob(client, repo, blob)
    push_blob(client, other, blob)
    check_status(client.delete(f"/v2/{repo}/blobs/{blob.digest}"), 202)
    check_error(client.get(f"/v2/{repo}/blobs/{blob.digest}"), 404, "BLOB_UNKNOWN")
    got = client.get(f"/v2/{other}/blobs/{blob.digest}")
    check_status(got, 200)
    assert got.content == blob.content


def test_concurrent_uploads_of_the_same_blob(client: httpx.Client, registry: RegistryServer) -> None:
    """Layer upload de-duplication: "If process A and B upload the same layer at the same time, both
    operations will proceed and the first to complete will be stored in the registry." Eight clients
    (over both workers) push one blob into one repository at once: every upload ends in 201."""
    repo = unique_repo("concurrent")
    blob = random_blob(256 * 1024)

    def upload(_: int) -> int:
        with make_client(registry.url, registry.auth) as c:
            resp = start_upload(c, repo)
            half = blob.size // 2
            resp = c.patch(location(resp), content=blob.content[:half],
                           headers={"Content-Type": OCTET, "Content-Range": f"0-{half - 1}"})
            resp = c.put(location(resp), params={"digest": blob.digest}, content=blob.content[half:],
                         headers={"Content-Type": OCTET, "Content-Range": f"{half}-{blob.size - 1}"})
            return resp.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(upload, range(8)))
    assert statuses == [201] * 8, statuses
    got = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    check_status(got, 200)
    assert got.content == blob.content


def test_upload_resumes_after_416(client: httpx.Client) -> None:
    """"To get the current status after a 416 error, issue a GET request to a URL <location>"; the session
    survives the refused chunk and the upload completes from the offset the GET reports."""
    repo = unique_repo("resume-416")
    blob = random_blob(90)
    resp = client.post(f"/v2/{repo}/blobs/uploads/", content=b"")
    resp = client.patch(location(resp), content=blob.content[:30],
                        headers={"Content-Type": OCTET, "Content-Range": "0-29"})
    check_status(resp, 202)
    upload = location(resp)
    bad = client.patch(upload, content=blob.content[40:60],
                       headers={"Content-Type": OCTET, "Content-Range": "40-59"})
    check_status(bad, 416)
    status = client.get(upload)
    check_status(status, 204)
    assert status.headers.get("Range") == "0-29", describe(status)
    resp = client.patch(location(status), content=blob.content[30:],
                        headers={"Content-Type": OCTET, "Content-Range": "30-89"})
    check_status(resp, 202)
    resp = client.put(location(resp), params={"digest": blob.digest}, content=b"")
    check_status(resp, 201)
    got = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert got.content == blob.content


def test_blob_digest_is_not_a_manifest(client: httpx.Client) -> None:
    """A blob is not a manifest: GET /v2/<name>/manifests/<blob digest> answers 404 ("If the manifest is
    not found in the repository, the response code MUST be 404 Not Found")."""
    repo = unique_repo("blob-not-manifest")
    blob = random_blob()
    push_blob(client, repo, blob)
    check_error(client.get(f"/v2/{repo}/manifests/{blob.digest}"), 404, "MANIFEST_UNKNOWN")
    check_status(client.head(f"/v2/{repo}/manifests/{blob.digest}"), 404)
