"""Uploads across a graceful restart and across kill -9 (raw HTTP with httpx, plus skopeo for committed images)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from clienttools import Clients, fetch_image, log_tail, with_query
from ociimages import Layout, make_layer, random_bytes, sha256

from support import RegistryServer

pytestmark = pytest.mark.clients

MiB = 1024 * 1024
OCTET = "application/octet-stream"


def _location(server: RegistryServer, r: httpx.Response) -> str:
    assert "Location" in r.headers, (r.status_code, dict(r.headers), r.text)
    return urljoin(server.url + "/", r.headers["Location"])


def _patch(http: httpx.Client, server: RegistryServer, loc: str, data: bytes, start: int) -> str:
    """PATCH one chunk with Content-Range; check the 202 and the Range the registry now reports."""
    r = http.patch(loc, content=data, headers={
        "Content-Type": OCTET, "Content-Range": f"{start}-{start + len(data) - 1}",
        "Content-Length": str(len(data))})
    assert r.status_code == 202, (r.status_code, r.text, log_tail(server))
    assert r.headers.get("Range") == f"0-{start + len(data) - 1}", dict(r.headers)
    return _location(server, r)


def _status(http: httpx.Client, server: RegistryServer, loc: str) -> httpx.Response:
    r = http.get(loc)
    assert r.status_code == 204, (r.status_code, r.text, log_tail(server))
    return r


def test_chunked_upload_survives_restarts(fresh_registry: RegistryServer) -> None:
    """POST, PATCH, restart, status + PATCH, restart, PUT with the last chunk and digest, restart: blob intact."""
    server = fresh_registry
    data = random_bytes("restart-upload", 3 * MiB + 12345)
    digest = sha256(data)
    repo = "clients/restart-upload"
    first, second, last = data[:MiB], data[MiB:2 * MiB], data[2 * MiB:]

    with httpx.Client(timeout=60, auth=server.auth) as http:
        r = http.post(f"{server.url}/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, (r.status_code, r.text)
        loc = _patch(http, server, _location(server, r), first, 0)

    server.restart()

    with httpx.Client(timeout=60, auth=server.auth) as http:
        r = _status(http, server, loc)
        assert r.headers.get("Range") == f"0-{len(first) - 1}", dict(r.headers)
        loc = _location(server, r)
        # an out-of-order chunk is refused (416): the registry remembers where the upload stands.
        # (Distribution 2.8 ignores Content-Range on PATCH and would append it, so not there.)
        if not getattr(server, "reference", False):
            bad = http.patch(loc, content=second, headers={
                "Content-Type": OCTET, "Content-Range": f"{len(first) + 1}-{len(first) + len(second)}",
                "Content-Length": str(len(second))})
            assert bad.status_code == 416, (bad.status_code, bad.text)
        loc = _patch(http, server, loc, second, len(first))

    server.restart()

    with httpx.Client(timeout=60, auth=server.auth) as http:
        r = _status(http, server, loc)
        assert r.headers.get("Range") == f"0-{len(first) + len(second) - 1}", dict(r.headers)
        r = http.put(with_query(_location(server, r), digest=digest), content=last,
                     headers={"Content-Type": OCTET, "Content-Length": str(len(last))})
        assert r.status_code == 201, (r.status_code, r.text, log_tail(server))
        assert r.headers.get("Docker-Content-Digest") == digest
        blob_url = _location(server, r)
        assert http.get(blob_url).content == data

    server.restart()

    with httpx.Client(timeout=60, auth=server.auth) as http:
        r = http.head(f"{server.url}/v2/{repo}/blobs/{digest}")
        assert r.status_code == 200
        assert int(r.headers["Content-Length"]) == len(data)
        r = http.get(f"{server.url}/v2/{repo}/blobs/{digest}")
        assert r.status_code == 200
        assert r.content == data
        # the finished upload session is gone
        assert http.get(loc).status_code == 404


def test_kill9_during_upload_keeps_committed_content(fresh_registry: RegistryServer, tmp_path: Path) -> None:
    """kill -9 while a PATCH body is streaming; after start the committed image and blob are intact, the torn
    blob does not exist, and the interrupted upload either resumes consistently or is unknown."""
    server = fresh_registry
    clients = Clients(tmp_path / "clients", server)
    try:
        _kill9_scenario(server, clients, tmp_path)
    finally:
        clients.close()


def _kill9_scenario(server: RegistryServer, clients: Clients, tmp_path: Path) -> None:
    # committed before the crash: an image (skopeo) and a lone blob (monolithic httpx upload)
    layout = Layout(tmp_path / "src")
    img = layout.image([make_layer({"kept/data.bin": random_bytes("kill9-kept", 2 * MiB)})], label="kept", ref="v1")
    repo = "clients/kill9"
    assert clients.push_layout(layout.path, "v1", repo, "v1") == img.digest
    lone = random_bytes("kill9-lone", 700 * 1024)
    with httpx.Client(timeout=60, auth=server.auth) as http:
        r = http.post(f"{server.url}/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        r = http.put(with_query(_location(server, r), digest=sha256(lone)), content=lone,
                     headers={"Content-Type": OCTET})
        assert r.status_code == 201, r.text

    # an upload in flight: 1 MiB chunk committed, then a 4 MiB PATCH that stalls half way
    torn = random_bytes("kill9-torn", 5 * MiB)
    with httpx.Client(timeout=60, auth=server.auth) as http:
        r = http.post(f"{server.url}/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        loc = _patch(http, server, _location(server, r), torn[:MiB], 0)

    half_sent = threading.Event()
    release = threading.Event()
    outcome: list[BaseException | httpx.Response] = []

    def body() -> Iterator[bytes]:
        rest = torn[MiB:]
        for i in range(0, 2 * MiB, 64 * 1024):
            yield rest[i:i + 64 * 1024]
        half_sent.set()
        release.wait(30)
        for i in range(2 * MiB, len(rest), 64 * 1024):
            yield rest[i:i + 64 * 1024]

    def stalled_patch() -> None:
        try:
            with httpx.Client(timeout=30, auth=server.auth) as http:
                outcome.append(http.patch(loc, content=body(), headers={
                    "Content-Type": OCTET, "Content-Range": f"{MiB}-{len(torn) - 1}",
                    "Content-Length": str(len(torn) - MiB)}))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=stalled_patch, daemon=True)
    worker.start()
    assert half_sent.wait(30), "the streaming PATCH never got going"
    time.sleep(0.5)  # let the server read (and maybe write) part of the body
    server.kill9()
    release.set()
    worker.join(30)
    assert not worker.is_alive()
    assert outcome and isinstance(outcome[0], httpx.HTTPError), outcome  # the connection died with the server

    server.start()

    # committed content is intact
    _, _, files = fetch_image(server, repo, "v1")
    assert files == img.files
    with httpx.Client(timeout=60, auth=server.auth) as http:
        r = http.get(f"{server.url}/v2/{repo}/blobs/{sha256(lone)}")
        assert r.status_code == 200 and r.content == lone
        r = http.get(f"{server.url}/v2/{repo}/tags/list")
        assert r.status_code == 200 and r.json()["tags"] == ["v1"], r.text
        # the torn content was never committed under its digest
        assert http.head(f"{server.url}/v2/{repo}/blobs/{sha256(torn)}").status_code == 404

        # the interrupted session: unknown now, or resumable from exactly what it reports
        r = http.get(loc)
        if r.status_code == 204:
            end = int(r.headers["Range"].split("-")[1])
            assert MiB - 1 <= end < len(torn), r.headers["Range"]
            print(f"interrupted upload resumable at offset {end + 1} of {len(torn)}")
            r = http.put(with_query(_location(server, r), digest=sha256(torn)), content=torn[end + 1:],
                         headers={"Content-Type": OCTET, "Content-Length": str(len(torn) - end - 1)})
            assert r.status_code == 201, (r.status_code, r.text, log_tail(server))
        else:
            # the session is gone (or known to be unusable): an OCI error, then a fresh upload works
            print(f"interrupted upload not resumable: {r.status_code} {r.text}")
            assert r.status_code in (400, 404), (r.status_code, r.text)
            assert r.json()["errors"][0]["code"] in ("BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"), r.text
            r = http.post(f"{server.url}/v2/{repo}/blobs/uploads/")
            r = http.put(with_query(_location(server, r), digest=sha256(torn)), content=torn,
                         headers={"Content-Type": OCTET})
            assert r.status_code == 201, (r.status_code, r.text)
        r = http.get(f"{server.url}/v2/{repo}/blobs/{sha256(torn)}")
        assert r.status_code == 200 and r.content == torn

    # and it takes new pushes
    img2 = layout.image([make_layer({"after/crash.txt": b"pushed after kill -9\n"})], label="after", ref="v2")
    assert clients.push_layout(layout.path, "v2", repo, "v2") == img2.digest
    clients.pull_layout(repo, "v1", tmp_path / "out" / "layout", "v1")
