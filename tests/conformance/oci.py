"""Test content and HTTP helpers for the OCI distribution-spec conformance tests.

The content mirrors what the official Go suite (opencontainers/distribution-spec,
conformance/setup.go and image.go) builds: JSON configs with a random author, a
small gzip tarball layer, image manifests whose descriptors carry an unknown field
(`newUnspecifiedField`) and inline `data`, artifact manifests with `artifactType`
and `subject`, an index artifact, and the empty descriptor
(`application/vnd.oci.empty.v1+json`, data `{}`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import secrets
import uuid
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_EMPTY = "application/vnd.oci.empty.v1+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
MEDIA_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCTET = "application/octet-stream"

EMPTY_JSON = b"{}"
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

# The Go suite's "nonexistent manifest" reference and "dummy" digest.
NONEXISTENT_MANIFEST = ".INVALID_MANIFEST_NAME"
DUMMY_DIGEST = "sha256:" + hashlib.sha256(b"hello world").hexdigest()
INVALID_MANIFEST_CONTENT = b"blablabla"

# Base64 of a tiny tar.gz holding test.txt, exactly as in the Go suite's setup.go.
_LAYER_BASE64 = (
    "H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0"
    "WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD"
    "jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA"
)

# Error codes the Go suite accepts as "OCI-conforming" (setup.go errorCodes), plus
# TOOMANYREQUESTS from the v1.1 error-code table.
OCI_ERROR_CODES = frozenset({
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED",
    "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "TAG_INVALID", "UNAUTHORIZED", "DENIED",
    "UNSUPPORTED", "TOOMANYREQUESTS",
})
_CODE_RE = re.compile(r"^[A-Z_]+$")
_RANGE_RE = re.compile(r"^0-\d+$")


# --------------------------------------------------------------------------- content


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class _Content:
    """Bytes pushed as they are: their digest (in their algorithm) and size."""

    content: bytes
    algorithm: str

    @property
    def digest(self) -> str:
        return digest_of(self.content, self.algorithm)

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class Blob(_Content):
    """Bytes with their digest, and the media type used when a descriptor points at them."""

    content: bytes
    media_type: str = OCTET
    algorithm: str = "sha256"

    def descriptor(self, media_type: str | None = None, **extra: Any) -> dict[str, Any]:
        d: dict[str, Any] = {"mediaType": media_type or self.media_type, "digest": self.digest,
                             "size": self.size}
        d.update(extra)
        return d


@dataclass(frozen=True)
class Manifest(_Content):
    """A manifest document as the exact bytes pushed, with the Content-Type to push it with."""

    content: bytes
    media_type: str
    algorithm: str = "sha256"
    doc: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        d.update(extra)
        return d


def random_bytes(size: int, seed: int | None = None) -> bytes:
    if seed is None:
        return secrets.token_bytes(size)
    return random.Random(seed).randbytes(size)


def random_blob(size: int = 42, algorithm: str = "sha256") -> Blob:
    return Blob(random_bytes(size), OCTET, algorithm)


def layer_blob() -> Blob:
    """The Go suite's fixed layer (the same bytes in every repository, as there)."""
    return Blob(base64.b64decode(_LAYER_BASE64), MEDIA_LAYER)


def empty_blob() -> Blob:
    return Blob(EMPTY_JSON, MEDIA_EMPTY)


def config_blob(media_type: str = MEDIA_CONFIG) -> Blob:
    """An image config made unique by a random author, pretty-printed like Go's MarshalIndent."""
    doc = {
        "author": secrets.token_urlsafe(12),
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    return Blob(json.dumps(doc, indent="\t").encode(), media_type)


def _go_descriptor(d: Mapping[str, Any], unspecified: bytes | None = None) -> dict[str, Any]:
    """A descriptor as the Go suite serialises it: `newUnspecifiedField` is always present (null or base64)."""
    out = dict(d)
    out["newUnspecifiedField"] = base64.b64encode(unspecified).decode() if unspecified is not None else None
    return out


def encode(doc: Mapping[str, Any], pretty: bool = True) -> bytes:
    if pretty:
        return json.dumps(doc, indent="\t").encode()
    return json.dumps(doc, separators=(",", ":")).encode()


def image_manifest(
    config: Blob,
    layers: Iterable[Blob],
    *,
    media_type_field: bool = True,
    artifact_type: str | None = None,
    subject: Manifest | None = None,
    annotations: Mapping[str, str] | None = None,
    config_media_type: str | None = None,
    layer_media_type: str | None = None,
    go_style: bool = True,
    algorithm: str = "sha256",
) -> Manifest:
    """An OCI image manifest. `go_style` adds the Go suite's inline config `data` and unknown field."""
    cfg = config.descriptor(config_media_type)
    if go_style:
        cfg = _go_descriptor(cfg, b"hello world")
        if cfg["mediaType"] == MEDIA_CONFIG:
            cfg["data"] = base64.b64encode(config.content).decode()
    layer_descs = [layer.descriptor(layer_media_type) for layer in layers]
    if go_style:
        layer_descs = [_go_descriptor(d) for d in layer_descs]
    doc: dict[str, Any] = {"schemaVersion": 2}
    if media_type_field:
        doc["mediaType"] = MEDIA_MANIFEST
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["config"] = cfg
    doc["layers"] = layer_descs
    if subject is not None:
        doc["subject"] = _go_descriptor(subject.descriptor()) if go_style else subject.descriptor()
    if annotations:
        doc["annotations"] = dict(annotations)
    return Manifest(encode(doc, pretty=go_style), MEDIA_MANIFEST, algorithm, doc)


def index_manifest(
    manifests: Iterable[Manifest],
    *,
    artifact_type: str | None = None,
    subject: Manifest | None = None,
    annotations: Mapping[str, str] | None = None,
    media_type: str = MEDIA_INDEX,
) -> Manifest:
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["manifests"] = [m.descriptor() for m in manifests]
    if subject is not None:
        doc["subject"] = subject.descriptor()
    if annotations:
        doc["annotations"] = dict(annotations)
    return Manifest(encode(doc), media_type, "sha256", doc)


def artifact_manifest(
    artifact_type: str,
    blobs: Iterable[Blob],
    subject: Manifest | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """An artifact in the v1.1 style: `artifactType` set, config is the empty descriptor."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "artifactType": artifact_type,
        "config": empty_blob().descriptor(),
        "layers": [b.descriptor() for b in blobs] or [empty_blob().descriptor()],
    }
    if subject is not None:
        doc["subject"] = subject.descriptor()
    if annotations:
        doc["annotations"] = dict(annotations)
    return Manifest(encode(doc), MEDIA_MANIFEST, "sha256", doc)


def docker_manifest(config: Blob, layers: Iterable[Blob]) -> Manifest:
    doc = {
        "schemaVersion": 2,
        "mediaType": MEDIA_DOCKER_MANIFEST,
        "config": config.descriptor(MEDIA_DOCKER_CONFIG),
        "layers": [layer.descriptor(MEDIA_DOCKER_LAYER) for layer in layers],
    }
    return Manifest(encode(doc), MEDIA_DOCKER_MANIFEST, "sha256", doc)


def schema1_manifest(name: str, tag: str, layer: Blob) -> Manifest:
    """A Docker image manifest schema 1 (signed variant's media type), which registries should refuse."""
    doc = {
        "schemaVersion": 1,
        "name": name,
        "tag": tag,
        "architecture": "amd64",
        "fsLayers": [{"blobSum": layer.digest}],
        "history": [{"v1Compatibility": json.dumps({"id": secrets.token_hex(32), "os": "linux"})}],
        "signatures": [{
            "header": {"jwk": {"crv": "P-256", "kty": "EC", "x": "x", "y": "y"}, "alg": "ES256"},
            "signature": "c2lnbmF0dXJl",
            "protected": "eyJmb3JtYXRMZW5ndGgiOjEsImZvcm1hdFRhaWwiOiJDbjAiLCJ0aW1lIjoiMjAxNS0wMS0wMVQwMDowMDowMFoifQ",
        }],
    }
    return Manifest(encode(doc, pretty=False), MEDIA_SCHEMA1_SIGNED, "sha256", doc)


def unique_repo(prefix: str) -> str:
    return f"conformance/{prefix}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------- HTTP helpers


def relative_location(resp: httpx.Response) -> str:
    """The Location header as path[?query], like the Go suite's GetRelativeLocation."""
    loc = str(resp.headers.get("Location", ""))
    parts = urlsplit(loc)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def location(resp: httpx.Response) -> str:
    """The Location header, non-empty (absolute or relative; httpx resolves both)."""
    loc = str(resp.headers.get("Location", ""))
    assert loc, f"{resp.request.method} {resp.request.url} -> {resp.status_code}: no Location header"
    return loc


def describe(resp: httpx.Response) -> str:
    body = b"" if resp.request.method == "HEAD" else resp.content[:500]
    return (f"{resp.request.method} {resp.request.url} -> {resp.status_code} "
            f"headers={dict(resp.headers)} body={body!r}")


def check_status(resp: httpx.Response, *expected: int) -> None:
    assert resp.status_code in expected, f"expected {expected}: {describe(resp)}"


def check_2xx(resp: httpx.Response) -> None:
    assert 200 <= resp.status_code < 300, f"expected 2xx: {describe(resp)}"


def oci_error_problem(resp: httpx.Response) -> str | None:
    """Why a 4xx response body is not OCI error JSON, or None when it is."""
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        return f"Content-Type is {ctype!r}, not JSON"
    try:
        body = resp.json()
    except ValueError:
        return "body is not JSON"
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list) or not body["errors"]:
        return 'body lacks a non-empty "errors" list'
    for err in body["errors"]:
        if not isinstance(err, dict):
            return "an error entry is not an object"
        code = err.get("code")
        if not isinstance(code, str) or not _CODE_RE.match(code):
            return f"error code {code!r} is not upper-case letters and underscores"
        if not isinstance(err.get("message"), str):
            return f'error {code} lacks a string "message"'
        if "detail" not in err:
            return f'error {code} lacks "detail"'
    return None


def error_codes(resp: httpx.Response) -> list[str]:
    problem = oci_error_problem(resp)
    assert problem is None, f"not an OCI error body ({problem}): {describe(resp)}"
    return [e["code"] for e in resp.json()["errors"]]


def check_error(resp: httpx.Response, status: int | Iterable[int], *codes: str) -> None:
    """The response has one of the statuses and OCI error JSON whose first code is one of `codes`."""
    statuses = (status,) if isinstance(status, int) else tuple(status)
    assert resp.status_code in statuses, f"expected {statuses}: {describe(resp)}"
    if resp.request.method == "HEAD":
        return
    found = error_codes(resp)
    if codes:
        assert found[0] in codes, f"expected error code in {codes}, got {found}: {describe(resp)}"


def start_upload(client: httpx.Client, repo: str, **params: str) -> httpx.Response:
    return client.post(f"/v2/{repo}/blobs/uploads/", params=params or None, content=b"")


def push_blob(client: httpx.Client, repo: str, blob: Blob) -> httpx.Response:
    """POST then PUT (the Go suite's "Populate registry with test blob")."""
    resp = start_upload(client, repo)
    check_status(resp, 202)
    put = client.put(location(resp), params={"digest": blob.digest}, content=blob.content,
                     headers={"Content-Type": OCTET})
    check_2xx(put)
    return put


def put_manifest(client: httpx.Client, repo: str, reference: str, manifest: Manifest,
                 content_type: str | None = None) -> httpx.Response:
    return client.put(f"/v2/{repo}/manifests/{reference}", content=manifest.content,
                      headers={"Content-Type": content_type or manifest.media_type})


def push_manifest(client: httpx.Client, repo: str, reference: str, manifest: Manifest) -> httpx.Response:
    resp = put_manifest(client, repo, reference, manifest)
    check_2xx(resp)
    return resp


def push_image(client: httpx.Client, repo: str, tag: str | None = None,
               layers: int = 1) -> tuple[Manifest, Blob, list[Blob]]:
    """A config, random layers and their manifest, pushed; the manifest tagged `tag` or pushed by digest."""
    config = config_blob()
    layer_blobs = [Blob(random_bytes(64), MEDIA_LAYER) for _ in range(layers)]
    for b in (config, *layer_blobs):
        push_blob(client, repo, b)
    manifest = image_manifest(config, layer_blobs)
    push_manifest(client, repo, tag or manifest.digest, manifest)
    return manifest, config, layer_blobs


def tag_list(resp: httpx.Response) -> list[str]:
    check_status(resp, 200)
    body = resp.json()
    tags = body.get("tags") or []
    assert isinstance(tags, list), describe(resp)
    return tags


def next_link(resp: httpx.Response) -> str | None:
    """The target of a `Link: <url>; rel="next"` header (RFC 5988), or None."""
    header = resp.headers.get("Link")
    if not header:
        return None
    m = re.match(r'^\s*<([^>]*)>\s*;\s*rel="?next"?\s*$', header)
    assert m, f'Link header {header!r} is not `<url>; rel="next"`'
    return m.group(1)


def link_params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def chunk_min_length(resp: httpx.Response) -> int:
    value = resp.headers.get("OCI-Chunk-Min-Length")
    return int(value) if value else 0


def range_header_ok(value: str | None) -> bool:
    return value is not None and bool(_RANGE_RE.match(value))


def check_response(resp: httpx.Response) -> None:
    """Response hook enforcing two project-wide rules on every answer (DESIGN.md "Security defaults"):
    no request, however bad, gets a 5xx; every 4xx to a request other than HEAD carries OCI error JSON
    (`{"errors": [{"code", "message", "detail"}]}`)."""
    resp.read()
    assert resp.status_code < 500, f"server error (no input may cause a 5xx): {describe(resp)}"
    if 400 <= resp.status_code < 500 and resp.request.method != "HEAD":
        problem = oci_error_problem(resp)
        assert problem is None, f"4xx without OCI error JSON ({problem}): {describe(resp)}"


def make_client(base_url: str, auth: httpx.Auth | None = None) -> httpx.Client:
    """The suite's client; `auth` as the official suite's OCI_USERNAME/OCI_PASSWORD (the Docker token flow).

    The response hook sees every response, including the 401 challenges and token answers of the
    auth flow, so those follow the same two rules."""
    return httpx.Client(
        base_url=base_url,
        auth=auth,
        timeout=120.0,
        follow_redirects=True,  # the Go suite's client (resty) follows redirects too
        headers={"User-Agent": "cargohold-oci-conformance"},
        event_hooks={"response": [check_response]},
    )


def warn(message: str) -> None:
    """The Go suite's Warn(): a conformance note that is not a failure."""
    warnings.warn(message, stacklevel=2)


def env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")
