"""Unauthenticated calls: every route family answers 401 with a challenge, and changes nothing.

distribution-spec v1.1, error codes: code-11 `UNAUTHORIZED` "authentication required"; and on
`GET /v2/`: "If the response is 401 Unauthorized, the client SHOULD take action based on the
contents of the WWW-Authenticate header". RFC 9110 11.6.1: "A server generating a 401
(Unauthorized) response MUST send a WWW-Authenticate header field containing at least one
challenge." DESIGN.md ("Security defaults"): authentication is on by default, anonymous pull
only when a registry enables it.

The anonymous client below has the suite's response hook too: no 5xx, OCI error JSON on every 4xx.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from oci import (
    MEDIA_MANIFEST,
    OCTET,
    Blob,
    Manifest,
    check_status,
    config_blob,
    describe,
    error_codes,
    image_manifest,
    location,
    make_client,
    push_blob,
    push_image,
    random_blob,
    relative_location,
    start_upload,
    tag_list,
    unique_repo,
)

from support import RegistryServer


@pytest.fixture(scope="module")
def anonymous(registry: RegistryServer) -> Iterator[httpx.Client]:
    with make_client(registry.url) as c:
        yield c


@dataclass
class Content:
    repo: str
    other_repo: str
    manifest: Manifest
    config: Blob
    layer: Blob
    upload: str  # an open upload session's Location (path and query), 10 bytes in


@pytest.fixture(scope="module")
def content(client: httpx.Client) -> Content:
    repo, other = unique_repo("auth"), unique_repo("auth-other")
    manifest, config, layers = push_image(client, repo, "v1")
    push_blob(client, other, layers[0])
    resp = start_upload(client, repo)
    check_status(resp, 202)
    resp = client.patch(location(resp), content=b"0123456789",
                        headers={"Content-Type": OCTET, "Content-Range": "0-9"})
    check_status(resp, 202)
    return Content(repo, other, manifest, config, layers[0], relative_location(resp))


def _requests(c: Content) -> list[tuple[str, str, str, dict[str, object]]]:
    new_blob = random_blob()
    new_manifest = image_manifest(config_blob(), [])
    return [
        ("end-1", "GET", "/v2/", {}),
        ("end-2", "GET", f"/v2/{c.repo}/blobs/{c.layer.digest}", {}),
        ("end-2", "HEAD", f"/v2/{c.repo}/blobs/{c.layer.digest}", {}),
        ("end-3", "GET", f"/v2/{c.repo}/manifests/v1", {}),
        ("end-3", "HEAD", f"/v2/{c.repo}/manifests/{c.manifest.digest}", {}),
        ("end-4a", "POST", f"/v2/{c.repo}/blobs/uploads/", {"content": b""}),
        ("end-4b", "POST", f"/v2/{c.repo}/blobs/uploads/",
         {"params": {"digest": new_blob.digest}, "content": new_blob.content, "headers": {"Content-Type": OCTET}}),
        ("end-5", "PATCH", c.upload, {"content": b"abc", "headers": {"Content-Type": OCTET,
                                                                     "Content-Range": "10-12"}}),
        ("end-6", "PUT", c.upload, {"params": {"digest": new_blob.digest}, "content": b"",
                                    "headers": {"Content-Type": OCTET}}),
        ("end-7", "PUT", f"/v2/{c.repo}/manifests/v2",
         {"content": new_manifest.content, "headers": {"Content-Type": MEDIA_MANIFEST}}),
        ("end-8a", "GET", f"/v2/{c.repo}/tags/list", {}),
        ("end-8b", "GET", f"/v2/{c.repo}/tags/list", {"params": {"n": "1"}}),
        ("end-9", "DELETE", f"/v2/{c.repo}/manifests/{c.manifest.digest}", {}),
        ("end-10", "DELETE", f"/v2/{c.repo}/blobs/{c.config.digest}", {}),
        ("end-11", "POST", f"/v2/{c.repo}-mounted/blobs/uploads/",
         {"params": {"mount": c.layer.digest, "from": c.other_repo}, "content": b""}),
        ("end-12a", "GET", f"/v2/{c.repo}/referrers/{c.manifest.digest}", {}),
        ("end-12b", "GET", f"/v2/{c.repo}/referrers/{c.manifest.digest}",
         {"params": {"artifactType": "application/example"}}),
        ("end-13", "GET", c.upload, {}),
        ("cancel", "DELETE", c.upload, {}),
        ("catalog", "GET", "/v2/_catalog", {}),
    ]


def _check_unauthorized(resp: httpx.Response) -> None:
    check_status(resp, 401)
    challenge = resp.headers.get("WWW-Authenticate", "")
    assert challenge.strip(), f"401 without a WWW-Authenticate challenge: {describe(resp)}"
    if resp.request.method != "HEAD":
        assert error_codes(resp)[0] == "UNAUTHORIZED", describe(resp)


def test_every_route_family_challenges_unauthenticated_calls(anonymous: httpx.Client, content: Content) -> None:
    """Each endpoint of the spec's table (end-1 .. end-13, plus upload cancel and the catalog) answers an
    anonymous call with 401, a WWW-Authenticate challenge and code UNAUTHORIZED."""
    for endpoint, method, path, kwargs in _requests(content):
        resp = anonymous.request(method, path, **kwargs)  # type: ignore[arg-type]
        try:
            _check_unauthorized(resp)
        except AssertionError as e:
            raise AssertionError(f"{endpoint}: {e}") from None


def test_wrong_credentials_are_unauthorized_too(anonymous: httpx.Client, registry: RegistryServer,
                                               content: Content) -> None:
    """A wrong password or a bearer token that is not one is "authentication required" again (401), not 403."""
    wrong = base64.b64encode(f"{registry.username}:{registry.password}-wrong".encode()).decode()
    for auth_header in (f"Basic {wrong}", "Bearer not-a-token"):
        for method, path in (("GET", "/v2/"), ("GET", f"/v2/{content.repo}/manifests/v1"),
                             ("HEAD", f"/v2/{content.repo}/blobs/{content.layer.digest}"),
                             ("POST", f"/v2/{content.repo}/blobs/uploads/"), ("GET", "/v2/_catalog")):
            _check_unauthorized(anonymous.request(method, path, headers={"Authorization": auth_header}))


def test_unauthenticated_calls_change_nothing(anonymous: httpx.Client, client: httpx.Client,
                                              content: Content) -> None:
    """After every refused call above, the content is exactly as pushed: no tag, blob, mount or upload
    progress came from an anonymous caller."""
    for _, method, path, kwargs in _requests(content):
        anonymous.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert tag_list(client.get(f"/v2/{content.repo}/tags/list")) == ["v1"]
    resp = client.get(f"/v2/{content.repo}/manifests/{content.manifest.digest}",
                      headers={"Accept": MEDIA_MANIFEST})
    check_status(resp, 200)
    assert resp.content == content.manifest.content
    check_status(client.head(f"/v2/{content.repo}/blobs/{content.config.digest}"), 200)
    check_status(client.head(f"/v2/{content.repo}-mounted/blobs/{content.layer.digest}"), 404)
    resp = client.get(content.upload)
    check_status(resp, 204)
    assert resp.headers.get("Range") == "0-9", describe(resp)

