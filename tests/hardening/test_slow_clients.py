"""Issue 8, hole 7: slow and idle clients (slowloris) must not starve real ones. A request head must
arrive within a deadline, a request body may not stall past an idle timeout (408, and the upload
session keeps exactly what it acknowledged), and beyond a per-worker cap the slowest connection
gives way; with 300 slow connections held open, a push and a pull still succeed."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from support import RegistryServer, running_registry

HEAD_TIMEOUT = 4
BODY_TIMEOUT = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    env = {"CARGOHOLD_HEADER_TIMEOUT_SECONDS": str(HEAD_TIMEOUT), "CARGOHOLD_BODY_IDLE_TIMEOUT_SECONDS":
           str(BODY_TIMEOUT), "CARGOHOLD_MAX_CONNECTIONS_PER_WORKER": "128", "CARGOHOLD_THROTTLING_ENABLED": "false"}
    with running_registry(tmp_path_factory.mktemp("slow") / "data", workers=2, extra_env=env) as s:
        yield s


def answer_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> bytes:
    """What the server sends within `seconds` while we send `trickle` a byte a second."""
    deadline = time.monotonic() + seconds
    sock.settimeout(1.0)
    got = b""
    for byte in trickle or b"\0" * int(seconds + 1):
        if trickle:
            with contextlib.suppress(OSError):
                sock.sendall(bytes([byte]))
        try:
            chunk = sock.recv(4096)
            got += chunk
            if not chunk or b"}]}" in got:
                return got
        except TimeoutError:
            pass
        if time.monotonic() > deadline:
            break
    return got


def test_a_trickled_request_head_is_cut(server: RegistryServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        got = answer_within(sock, HEAD_TIMEOUT + 4, trickle=b"X-Slow: " + b"a" * 30)
    assert got.startswith(b"HTTP/1.1 408"), got
    assert HEAD_TIMEOUT - 0.5 < time.monotonic() - started < HEAD_TIMEOUT + 3


def test_an_idle_body_upload_is_cut_and_its_session_stays_consistent(server: RegistryServer) -> None:
    data = os.urandom(200_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    creds = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Basic {creds}"}, timeout=30) as client:
        location = client.post("/v2/slow/idle/blobs/uploads/").headers["Location"]
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(f"PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {creds}\r\n"
                         f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                         + data[:50_000])
            started = time.monotonic()
            got = answer_within(sock, BODY_TIMEOUT + 5)
        assert got.startswith(b"HTTP/1.1 408"), got
        assert b"SIZE_INVALID" in got and b"stopped arriving" in got
        assert BODY_TIMEOUT - 0.5 < time.monotonic() - started < BODY_TIMEOUT + 3

        status = client.get(location)
        assert status.status_code == 204, status.text
        end = int(status.headers["Range"].rpartition("-")[2])
        have = 0 if end == 0 else end + 1  # "0-0" is how an empty session reports itself
        assert have in (0, 50_000)  # all or nothing of what arrived; nothing half-written
        rest = client.patch(location, content=data[have:], headers={
            "Content-Type": "application/octet-stream", "Content-Range": f"{have}-{len(data) - 1}"})
        assert rest.status_code == 202, rest.text
        done = client.put(rest.headers["Location"], params={"digest": digest})
        assert done.status_code == 201, done.text
        assert client.get(f"/v2/slow/idle/blobs/{digest}").content == data


class Slowloris:
    """`count` connections that send a request head a byte every `every` seconds, reopened when cut."""

    def __init__(self, port: int, count: int, every: float = 2.0) -> None:
        self.port, self.count, self.every = port, count, every
        self.socks: list[socket.socket] = []
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setblocking(False)
        sock.send(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
        return sock

    def __enter__(self) -> Slowloris:
        self.socks = [self._open() for _ in range(self.count)]
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for i, sock in enumerate(self.socks):
                try:
                    if sock.recv(4096, socket.MSG_PEEK) is not None:  # anything back means cut
                        raise ConnectionError
                except BlockingIOError:
                    with contextlib.suppress(BlockingIOError):
                        sock.send(b"a")
                    continue
                except OSError:
                    pass
                sock.close()
                self.socks[i] = self._open()
                self.reopened += 1

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.socks:
            sock.close()


def test_push_and_pull_succeed_while_300_slow_connections_are_open(server: RegistryServer) -> None:
    layer = os.urandom(1_000_000)
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    with Slowloris(server.port, 300) as attack:
        time.sleep(0.5)  # let the server accept them all
        started = time.monotonic()
        with server.client(timeout=20) as client:
            r = client.post("/v2/slow/busy/blobs/uploads/", params={"digest": digest}, content=layer,
                            headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 201, r.text
            manifest = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
                        b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"' +
                        digest.encode() + b'","size":' + str(len(layer)).encode() + b'},"layers":[]}')
            r = client.put("/v2/slow/busy/manifests/v1", content=manifest,
                           headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            assert r.status_code == 201, r.text
            assert client.get("/v2/slow/busy/manifests/v1").content == manifest
            assert client.get(f"/v2/slow/busy/blobs/{digest}").content == layer
        elapsed = time.monotonic() - started
        # The server sheds slow connections (over its cap, or past the head deadline); the attacker
        # notices on its next round.
        deadline = time.monotonic() + HEAD_TIMEOUT + 3 * attack.every
        while attack.reopened == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert attack.reopened > 0
    assert elapsed < 15, elapsed
