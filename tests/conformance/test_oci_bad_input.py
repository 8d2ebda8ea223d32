"""Bad input: invalid repository names (NAME_INVALID) and a catalogue of malformed requests.

DESIGN.md ("Security defaults"): "Every rejected request gets the OCI error JSON
({"errors":[{"code","message","detail"}]}) with the right status; never a 500 for bad
input." The client's response hook (oci.check_response) fails any 5xx and any 4xx
without OCI error JSON; each case below also names the statuses (and codes) the spec
or the project expects, or accepts any non-5xx answer where neither says more.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from oci import (
    MEDIA_INDEX,
    MEDIA_MANIFEST,
    OCTET,
    Manifest,
    check_error,
    check_status,
    describe,
    digest_of,
    location,
    push_image,
    unique_repo,
)

# ---------------------------------------------------------------------------- NAME_INVALID

INVALID_NAMES = [
    "UpperCase",
    "bad..name",
    "-leading",
    "trailing-",
    "trailing.",
    "a___b",
    "a/-b",
    "ns/Upper",
    "a" * 256,  # "The total length of a repository name, including slashes, MUST be less than 256 characters"
]


@pytest.mark.parametrize("name", INVALID_NAMES, ids=lambda n: n if len(n) < 20 else f"len{len(n)}")
def test_invalid_repository_name(client: httpx.Client, name: str) -> None:
    """"Throughout this document, <name> MUST match the following regular expression:
    [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*" -> code-8 NAME_INVALID
    ("invalid repository name") with 400, on push and on pull."""
    manifest = Manifest(json.dumps({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST}).encode(), MEDIA_MANIFEST)
    digest = digest_of(b"x")
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"/v2/{name}/blobs/uploads/", {"content": b""}),
        ("POST", f"/v2/{name}/blobs/uploads/", {"params": {"digest": digest}, "content": b"x"}),
        ("PUT", f"/v2/{name}/manifests/latest",
         {"content": manifest.content, "headers": {"Content-Type": MEDIA_MANIFEST}}),
        ("GET", f"/v2/{name}/manifests/latest", {}),
        ("GET", f"/v2/{name}/blobs/{digest}", {}),
        ("GET", f"/v2/{name}/tags/list", {}),
        ("GET", f"/v2/{name}/referrers/{digest}", {}),
        ("DELETE", f"/v2/{name}/manifests/latest", {}),
    ]
    for method, path, kwargs in requests:
        check_error(client.request(method, path, **kwargs), 400, "NAME_INVALID")
    check_status(client.head(f"/v2/{name}/manifests/latest"), 400)


def test_valid_unusual_names_accepted(client: httpx.Client) -> None:
    """The grammar allows `__`, runs of `-`, `.` separators, digits and deep paths."""
    suffix = uuid.uuid4().hex[:8]
    for name in (f"conformance/a__b-{suffix}", f"conformance/a--b.c_d-{suffix}", f"conformance/x/y/z/{suffix}0"):
        resp = client.post(f"/v2/{name}/blobs/uploads/", content=b"")
        check_status(resp, 202)


# ---------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str  # placeholders: {repo} {digest} {missing} {upload} (a fresh session's Location)
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    statuses: tuple[int, ...] = ()  # empty: any non-5xx answer
    codes: tuple[str, ...] = ()


def _j(doc: Any) -> bytes:
    return json.dumps(doc).encode()


_CFG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "{digest}", "size": 1}
_M = {"Content-Type": MEDIA_MANIFEST}
_OCT = {"Content-Type": OCTET}
_BAD_MANIFEST = (400,)
_MI = ("MANIFEST_INVALID",)
_MI_OR_DIGEST = ("MANIFEST_INVALID", "DIGEST_INVALID")
_UUID = "0b3c2a8e-4c1f-4e6b-9b0e-6d9b1f2a3c4d"

CASES = [
    # digests in paths (end-2/end-3/end-10 failures: 404; 400 for a malformed digest is fine too)
    Case("get-blob-bad-digest", "GET", "/v2/{repo}/blobs/sha256:totallywrong", statuses=(400, 404)),
    Case("head-blob-bad-digest", "HEAD", "/v2/{repo}/blobs/sha256:totallywrong", statuses=(400, 404)),
    Case("delete-blob-bad-digest", "DELETE", "/v2/{repo}/blobs/sha256:totallywrong", statuses=(400, 404)),
    Case("get-blob-md5", "GET", "/v2/{repo}/blobs/md5:" + "a" * 32, statuses=(400, 404)),
    Case("get-blob-short-hex", "GET", "/v2/{repo}/blobs/sha256:" + "a" * 63, statuses=(400, 404)),
    Case("get-blob-upper-hex", "GET", "/v2/{repo}/blobs/sha256:" + "A" * 64, statuses=(400, 404)),
    Case("get-blob-no-algo", "GET", "/v2/{repo}/blobs/:" + "a" * 64, statuses=(400, 404)),
    Case("get-manifest-bad-digest", "GET", "/v2/{repo}/manifests/sha256:totallywrong", statuses=(400, 404)),
    Case("delete-manifest-bad-digest", "DELETE", "/v2/{repo}/manifests/sha256:totallywrong",
         statuses=(400, 404)),
    Case("get-manifest-bad-tag", "GET", "/v2/{repo}/manifests/-bad-tag", statuses=(400, 404)),
    Case("get-manifest-long-tag", "GET", "/v2/{repo}/manifests/" + "t" * 300, statuses=(400, 404)),
    Case("referrers-bad-digest", "GET", "/v2/{repo}/referrers/sha256:nothex", statuses=(400,)),
    Case("referrers-tag", "GET", "/v2/{repo}/referrers/latest", statuses=(400,)),
    # manifest bodies
    Case("manifest-not-json", "PUT", "/v2/{repo}/manifests/bad", headers=_M, body=b"blablabla",
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-empty-body", "PUT", "/v2/{repo}/manifests/bad", headers=_M, body=b"",
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-null", "PUT", "/v2/{repo}/manifests/bad", headers=_M, body=b"null",
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-array", "PUT", "/v2/{repo}/manifests/bad", headers=_M, body=b"[]",
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-empty-object", "PUT", "/v2/{repo}/manifests/bad", headers=_M, body=b"{}",
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-string", "PUT", "/v2/{repo}/manifests/bad", headers=_M, body=b'"manifest"',
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-invalid-utf8", "PUT", "/v2/{repo}/manifests/bad", headers=_M, body=b'{"a": "\xff\xfe"}',
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-deeply-nested", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=b"[" * 100_000 + b"]" * 100_000, statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-schema-version-1", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 1, "mediaType": MEDIA_MANIFEST, "config": _CFG, "layers": []}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-schema-version-string", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": "2", "mediaType": MEDIA_MANIFEST, "config": _CFG, "layers": []}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-missing-config", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "layers": []}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-config-not-object", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": "x", "layers": []}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-layers-not-list", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": _CFG, "layers": {"a": 1}}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-layer-not-object", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": _CFG, "layers": [7]}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-descriptor-bad-digest", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                  "config": {**_CFG, "digest": "sha256:xyz"}, "layers": []}),
         statuses=_BAD_MANIFEST, codes=_MI_OR_DIGEST),
    Case("manifest-descriptor-negative-size", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": {**_CFG, "size": -1},
                  "layers": []}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-descriptor-size-string", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": {**_CFG, "size": "1"},
                  "layers": []}),
         statuses=_BAD_MANIFEST, codes=_MI),
    # image-spec descriptor.md: `size` is an int64; a value beyond it is not a valid descriptor
    Case("manifest-descriptor-huge-size", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=b'{"schemaVersion": 2, "mediaType": "' + MEDIA_MANIFEST.encode() + b'", "config": '
              b'{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "{digest}", '
              b'"size": 99999999999999999999999999999}, "layers": []}',
         statuses=(400,), codes=("MANIFEST_INVALID", "MANIFEST_BLOB_UNKNOWN", "SIZE_INVALID")),
    Case("manifest-descriptor-missing-media-type", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                  "config": {"digest": "{digest}", "size": 1}, "layers": []}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-subject-not-object", "PUT", "/v2/{repo}/manifests/bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": _CFG, "layers": [],
                  "subject": "sha256:abc"}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("index-manifests-not-list", "PUT", "/v2/{repo}/manifests/bad", headers={"Content-Type": MEDIA_INDEX},
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": "nope"}),
         statuses=_BAD_MANIFEST, codes=_MI),
    Case("manifest-unknown-content-type", "PUT", "/v2/{repo}/manifests/bad",
         headers={"Content-Type": "text/plain"},
         body=_j({"schemaVersion": 2, "config": _CFG, "layers": []})),
    Case("manifest-media-type-mismatch", "PUT", "/v2/{repo}/manifests/bad",
         headers={"Content-Type": MEDIA_INDEX},
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": _CFG, "layers": []}),
         statuses=(400,), codes=_MI),
    Case("manifest-bad-tag", "PUT", "/v2/{repo}/manifests/-bad", headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": _CFG, "layers": []}),
         statuses=(400, 404)),
    Case("manifest-tag-too-long", "PUT", "/v2/{repo}/manifests/" + "t" * 129, headers=_M,
         body=_j({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": _CFG, "layers": []}),
         statuses=(400, 404)),
    # upload sessions that do not exist
    Case("patch-unknown-upload", "PATCH", "/v2/{repo}/blobs/uploads/" + _UUID, headers=_OCT, body=b"abc",
         statuses=(404,), codes=("BLOB_UPLOAD_UNKNOWN",)),
    Case("put-unknown-upload", "PUT", "/v2/{repo}/blobs/uploads/" + _UUID, params={"digest": "{digest}"},
         headers=_OCT, body=b"", statuses=(404,), codes=("BLOB_UPLOAD_UNKNOWN",)),
    Case("get-unknown-upload", "GET", "/v2/{repo}/blobs/uploads/" + _UUID,
         statuses=(404,), codes=("BLOB_UPLOAD_UNKNOWN",)),
    Case("delete-unknown-upload", "DELETE", "/v2/{repo}/blobs/uploads/" + _UUID,
         statuses=(404,), codes=("BLOB_UPLOAD_UNKNOWN",)),
    Case("patch-garbage-upload-id", "PATCH", "/v2/{repo}/blobs/uploads/not-a-uuid!", headers=_OCT,
         body=b"abc", statuses=(400, 404)),
    Case("patch-traversal-upload-id", "PATCH", "/v2/{repo}/blobs/uploads/..%2F..%2F..%2Fetc%2Fpasswd",
         headers=_OCT, body=b"abc", statuses=(400, 404)),
    # chunk ranges on a live session ("It MUST match the following regular expression: ^[0-9]+-[0-9]+$")
    # (the regex binds clients; a registry may tolerate a `bytes=` prefix as long as it reads the range)
    Case("patch-range-bytes-prefix", "PATCH", "{upload}", headers={**_OCT, "Content-Range": "bytes=0-3"},
         body=b"abcd", statuses=(202, 400, 416)),
    Case("patch-range-reversed", "PATCH", "{upload}", headers={**_OCT, "Content-Range": "5-2"},
         body=b"abcd", statuses=(400, 416)),
    Case("patch-range-length-mismatch", "PATCH", "{upload}", headers={**_OCT, "Content-Range": "0-9"},
         body=b"abcd", statuses=(400, 416)),
    Case("patch-range-garbage", "PATCH", "{upload}", headers={**_OCT, "Content-Range": "abc"},
         body=b"abcd", statuses=(400, 416)),
    Case("patch-range-negative", "PATCH", "{upload}", headers={**_OCT, "Content-Range": "-1-2"},
         body=b"abcd", statuses=(400, 416)),
    Case("patch-range-not-from-zero", "PATCH", "{upload}", headers={**_OCT, "Content-Range": "4-7"},
         body=b"abcd", statuses=(416,)),
    Case("put-range-length-mismatch", "PUT", "{upload}", params={"digest": digest_of(b"ab")},
         headers={**_OCT, "Content-Range": "0-3"}, body=b"ab", statuses=(400, 416)),
    Case("put-session-bad-digest", "PUT", "{upload}", params={"digest": "sha256:nothex"}, headers=_OCT,
         body=b"ab", statuses=(400,), codes=("DIGEST_INVALID",)),
    # POST variants
    Case("post-bad-digest", "POST", "/v2/{repo}/blobs/uploads/", params={"digest": "sha256:nothex"},
         headers=_OCT, body=b"abc", statuses=(400,), codes=("DIGEST_INVALID",)),
    Case("post-digest-no-body", "POST", "/v2/{repo}/blobs/uploads/", params={"digest": "{missing}"},
         headers=_OCT, body=b"", statuses=(202, 400)),
    Case("post-mount-bad-digest", "POST", "/v2/{repo}/blobs/uploads/",
         params={"mount": "sha256:nothex", "from": "{repo}"}, body=b"", statuses=(202, 400)),
    Case("post-mount-bad-from", "POST", "/v2/{repo}/blobs/uploads/",
         params={"mount": "{digest}", "from": "Not/A..Name"}, body=b"", statuses=(202, 400)),
    Case("post-mount-empty", "POST", "/v2/{repo}/blobs/uploads/", params={"mount": "", "from": ""},
         body=b"", statuses=(202, 400)),
    # pagination parameters
    Case("tags-n-not-int", "GET", "/v2/{repo}/tags/list", params={"n": "abc"}, statuses=(200, 400)),
    Case("tags-n-negative", "GET", "/v2/{repo}/tags/list", params={"n": "-1"}, statuses=(200, 400)),
    Case("tags-n-huge", "GET", "/v2/{repo}/tags/list", params={"n": "9" * 30}, statuses=(200, 400)),
    Case("tags-last-garbage", "GET", "/v2/{repo}/tags/list", params={"last": "\x00\xff"}, statuses=(200, 400)),
    Case("catalog-n-not-int", "GET", "/v2/_catalog", params={"n": "abc"}, statuses=(200, 400)),
    Case("catalog-n-negative", "GET", "/v2/_catalog", params={"n": "-5"}, statuses=(200, 400)),
    Case("catalog-n-huge", "GET", "/v2/_catalog", params={"n": "9" * 30}, statuses=(200, 400)),
    # methods and routes the API does not have
    Case("put-blob-url", "PUT", "/v2/{repo}/blobs/{digest}", headers=_OCT, body=b"x",
         statuses=(400, 404, 405)),
    Case("post-manifest-url", "POST", "/v2/{repo}/manifests/latest", headers=_M, body=b"{}",
         statuses=(400, 404, 405)),
    Case("patch-manifest-url", "PATCH", "/v2/{repo}/manifests/latest", headers=_M, body=b"{}",
         statuses=(400, 404, 405)),
    Case("delete-tags-list", "DELETE", "/v2/{repo}/tags/list", statuses=(400, 404, 405)),
    Case("get-uploads-collection", "GET", "/v2/{repo}/blobs/uploads/", statuses=(400, 404, 405)),
    Case("unknown-route", "GET", "/v2/{repo}/nothing/here", statuses=(400, 404)),
    Case("unknown-top-route", "GET", "/v2/_nothing", statuses=(400, 404)),
    # odd bytes in paths
    Case("name-null-byte", "GET", "/v2/a%00b/tags/list", statuses=(400, 404)),
    Case("name-bad-utf8", "GET", "/v2/%ff%fe/tags/list", statuses=(400, 404)),
    Case("name-unicode", "GET", "/v2/caf%C3%A9/tags/list", statuses=(400, 404)),
    Case("name-very-deep", "GET", "/v2/" + "a/" * 2000 + "x/tags/list", statuses=(400, 404)),
    Case("tag-null-byte", "GET", "/v2/{repo}/manifests/a%00b", statuses=(400, 404)),
    Case("tag-very-long", "GET", "/v2/{repo}/manifests/" + "a" * 5000, statuses=(400, 404)),
    Case("digest-null-byte", "GET", "/v2/{repo}/blobs/sha256:%00", statuses=(400, 404)),
    Case("upload-id-null-byte", "GET", "/v2/{repo}/blobs/uploads/%00", statuses=(400, 404)),
    # headers
    Case("multi-range", "GET", "/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=0-0,2-3"},
         statuses=(200, 206, 416)),
    Case("range-huge-numbers", "GET", "/v2/{repo}/blobs/{digest}",
         headers={"Range": "bytes=99999999999999999999999-"}, statuses=(200, 416)),
    Case("accept-garbage", "GET", "/v2/{repo}/manifests/latest", headers={"Accept": ";;;q=abc, */*;q=x, application/"},
         statuses=(200, 404, 406)),
]


@dataclass
class Target:
    repo: str
    digest: str
    missing: str


@pytest.fixture(scope="module")
def target(client: httpx.Client) -> Target:
    repo = unique_repo("bad-input")
    _, config, _ = push_image(client, repo, "latest")
    return Target(repo, config.digest, digest_of(uuid.uuid4().bytes))


def _fill(text: str, t: Target) -> str:
    return text.replace("{repo}", t.repo).replace("{digest}", t.digest).replace("{missing}", t.missing)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(client: httpx.Client, target: Target, case: Case) -> None:
    path = case.path
    if path.startswith("{upload}"):
        resp = client.post(f"/v2/{target.repo}/blobs/uploads/", content=b"")
        check_status(resp, 202)
        path = location(resp) + path[len("{upload}"):]
    params = {k: _fill(v, target) for k, v in case.params.items()} if case.params else None
    body = case.body.replace(b"{digest}", target.digest.encode()) if case.body is not None else None
    resp = client.request(case.method, _fill(path, target), params=params, headers=case.headers,
                          content=body)
    if case.statuses:
        assert resp.status_code in case.statuses, f"expected {case.statuses}: {describe(resp)}"
    if case.codes:
        check_error(resp, resp.status_code, *case.codes)
    if resp.status_code == 202 and case.method == "PATCH" and "Content-Range" in case.headers:
        assert resp.headers.get("Range") == f"0-{len(body or b'') - 1}", describe(resp)
