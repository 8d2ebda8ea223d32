"""Throttling against a real `cargohold serve --workers 2` with tiny limits.

Each test starts its own server; users, the admin user and anonymous pull are set up through the
management API, as an operator would (`cargohold user create`, `update --anonymous-pull-enabled`...).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import RegistryServer

# registry-wide 12 reads a minute (a token every 5 s); an identity gets half: 6 (a token every 10 s)
READS_12 = {"CARGOHOLD_THROTTLE_READS_PER_MINUTE": "12", "CARGOHOLD_THROTTLE_IDENTITY_SHARE": "0.5"}
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PROPAGATION = 5.5  # seconds: registry switches reach every worker within 5 s (docs/management-api.md)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class Prepared:
    def __init__(self, server: RegistryServer) -> None:
        self.server = server
        self.registry_name = ""
        self.passwords: dict[str, str] = {server.username: server.password}

    def auth(self, user: str) -> str:
        return _basic(user, self.passwords[user])


@pytest.fixture()
def started() -> Iterator[list[RegistryServer]]:
    servers: list[RegistryServer] = []
    yield servers
    for s in servers:
        s.stop()


def _start(started: list[RegistryServer], tmp_path: Path, env: dict[str, str], *,
           users: tuple[str, ...] = ("alice", "bob"), anonymous_pull: bool = False,
           admin: bool = False) -> Prepared:
    """`cargohold serve --workers 2`, then through the management API: users with AcrPull on the
    registry, maybe the admin user (both passwords kept) and anonymous pull."""
    server = RegistryServer(tmp_path / "data", workers=2, extra_env=env)
    started.append(server)
    server.start()
    p = Prepared(server)
    with httpx.Client(base_url=server.url + "/api", auth=server.basic_auth, timeout=30) as api:
        for name in users:
            password = p.passwords[name] = f"{name}-{uuid.uuid4().hex}"
            r = api.post("/users", json={"name": name, "password": password})
            assert r.status_code == 201, r.text
            r = api.post("/role-assignments", json={"assignee": name, "role": "AcrPull"})
            assert r.status_code == 201, r.text
        r = api.patch("/registry", json={"anonymousPullEnabled": anonymous_pull, "adminUserEnabled": admin})
        assert r.status_code == 200, r.text
        p.registry_name = r.json()["name"]
        if admin:
            creds = r.json()["adminCredentials"]
            assert creds["username"] == p.registry_name
            for secret in creds["passwords"]:
                p.passwords["admin-" + secret["name"]] = secret["value"]
    if anonymous_pull:
        time.sleep(PROPAGATION)  # a worker may still hold "anonymous pull is off"
    return p


# --- one connection per worker ------------------------------------------------------------------

def _workers(server: RegistryServer) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server side of the loopback connection from `client_port`."""
    want_local, want_remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == want_local and fields[2] == want_remote:
            return fields[9]
    return None


def _worker_of(server: RegistryServer, client_port: int) -> int | None:
    inode = _socket_inode(server.port, client_port)
    if inode is None:
        return None
    for pid in _workers(server):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


class Conn:
    """One keep-alive HTTP connection, and the worker process that accepted it."""

    def __init__(self, server: RegistryServer) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.http.connect()
        assert self.http.sock is not None
        port = self.http.sock.getsockname()[1]
        deadline = time.monotonic() + 5
        worker = _worker_of(server, port)
        while worker is None and time.monotonic() < deadline:
            time.sleep(0.01)
            worker = _worker_of(server, port)
        assert worker is not None, "no worker accepted the connection"
        self.worker = worker

    def get(self, path: str, authorization: str | None = None) -> tuple[int, dict[str, str], dict[str, object]]:
        self.http.request("GET", path, headers={"Authorization": authorization} if authorization else {})
        resp = self.http.getresponse()
        body = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, json.loads(body) if body else {}

    def close(self) -> None:
        self.http.close()


def _one_connection_per_worker(server: RegistryServer) -> list[Conn]:
    """Open connections until each of the server's workers has accepted one; close the rest."""
    by_worker: dict[int, Conn] = {}
    spare: list[Conn] = []
    for _ in range(200):
        c = Conn(server)
        if c.worker in by_worker:
            spare.append(c)
        else:
            by_worker[c.worker] = c
        if len(by_worker) == server.workers:
            break
    for c in spare:
        c.close()
    assert len(by_worker) == server.workers, "could not reach every worker"
    return list(by_worker.values())


def _assert_throttled(status: int, headers: dict[str, str], body: dict[str, object], whose: str) -> int:
    assert status == 429, (status, body)
    error = body["errors"][0]  # type: ignore[index]
    assert error["code"] == "TOOMANYREQUESTS", body
    assert whose in error["message"], body
    retry_after = int(headers["retry-after"])
    assert error["detail"] == {"retryAfter": retry_after}
    return retry_after


# --- the tests ----------------------------------------------------------------------------------

def test_the_limit_holds_across_workers_and_retry_after_counts_down(tmp_path: Path,
                                                                   started: list[RegistryServer]) -> None:
    p = _start(started, tmp_path, READS_12)
    alice = p.auth("alice")
    conns = _one_connection_per_worker(p.server)
    assert len({c.worker for c in conns}) == 2
    # alternate between the two workers: 6 reads in all go through (3 on each), then 429 on both
    results = [conns[i % 2].get("/v2/", alice) for i in range(8)]
    assert [r[0] for r in results] == [200] * 6 + [429] * 2
    first = _assert_throttled(*results[6], "this identity")
    second = _assert_throttled(*results[7], "this identity")
    assert 9 <= second <= first <= 10  # a token every 10 s
    for c in conns:
        c.close()

    time.sleep(2.2)
    conns = _one_connection_per_worker(p.server)
    later = [_assert_throttled(*c.get("/v2/", alice), "this identity") for c in conns]
    assert all(1 <= r <= first - 2 for r in later), (first, later)  # counting down, on both workers

    time.sleep(max(later) + 0.3)
    conns = _one_connection_per_worker(p.server)
    assert conns[0].get("/v2/", alice)[0] == 200  # recovered: one token
    _assert_throttled(*conns[1].get("/v2/", alice), "this identity")  # and only one
    for c in conns:
        c.close()


def test_identities_have_their_own_buckets_and_the_registry_caps_them(tmp_path: Path,
                                                                      started: list[RegistryServer]) -> None:
    p = _start(started, tmp_path, READS_12)
    with httpx.Client(base_url=p.server.url, timeout=30) as c:
        def read(user: str) -> httpx.Response:
            return c.get("/v2/", headers={"Authorization": p.auth(user)})

        assert [read("alice").status_code for _ in range(6)] == [200] * 6
        r = read("alice")
        _assert_throttled(r.status_code, dict(r.headers), r.json(), "this identity")
        assert [read("bob").status_code for _ in range(6)] == [200] * 6  # bob's bucket is his own
        r = read(p.server.username)  # 12 reads: the registry's bucket is empty, for everyone
        retry_after = _assert_throttled(r.status_code, dict(r.headers), r.json(), "this registry")
        assert 1 <= retry_after <= 5  # the registry gets a token every 5 s


def _push_small_image(server: RegistryServer, repo: str) -> str:
    """Two writes as the owner: a config blob (monolithic POST) and a manifest; returns its digest."""
    config = b"{}"
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": []}).encode()
    with httpx.Client(base_url=server.url, auth=server.basic_auth, timeout=30) as c:
        r = c.post(f"/v2/{repo}/blobs/uploads/", params={"digest": config_digest}, content=config,
                   headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        r = c.put(f"/v2/{repo}/manifests/v1", content=manifest, headers={"Content-Type": MANIFEST})
        assert r.status_code == 201, r.text
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def test_all_anonymous_callers_share_one_bucket(tmp_path: Path, started: list[RegistryServer]) -> None:
    p = _start(started, tmp_path, READS_12, anonymous_pull=True)
    _push_small_image(p.server, "thr/app")
    path = "/v2/thr/app/manifests/v1"
    headers = {"Accept": MANIFEST}
    with httpx.Client(base_url=p.server.url, timeout=30) as plain, \
            httpx.Client(base_url=p.server.url, timeout=30) as tokened:
        token = tokened.get("/oauth2/token", params={"service": p.server.host,
                                                     "scope": "repository:thr/app:pull"}).json()["token"]
        tokened.headers["Authorization"] = f"Bearer {token}"
        # no credentials at all, and an anonymous access token: the same (anonymous) bucket
        statuses = [(plain if i % 2 else tokened).get(path, headers=headers).status_code for i in range(6)]
        assert statuses == [200] * 6
        for client in (plain, tokened):
            r = client.get(path, headers=headers)
            _assert_throttled(r.status_code, dict(r.headers), r.json(), "this identity")
    # an identity that signs in is not held back by the anonymous callers
    r = httpx.get(p.server.url + path, headers={**headers, "Authorization": p.auth("alice")}, timeout=30)
    assert r.status_code == 200, r.text


def test_both_admin_passwords_share_one_bucket(tmp_path: Path, started: list[RegistryServer]) -> None:
    p = _start(started, tmp_path, READS_12, users=(), admin=True)
    with httpx.Client(base_url=p.server.url, timeout=30) as c:
        one = {"Authorization": _basic(p.registry_name, p.passwords["admin-password"])}
        two = {"Authorization": _basic(p.registry_name, p.passwords["admin-password2"])}
        assert [c.get("/v2/", headers=one if i % 2 else two).status_code for i in range(6)] == [200] * 6
        for h in (one, two):
            r = c.get("/v2/", headers=h)
            _assert_throttled(r.status_code, dict(r.headers), r.json(), "this identity")
        assert c.get("/v2/", headers={"Authorization": p.auth(p.server.username)}).status_code == 200


def test_logins_take_a_registry_token_before_checking_and_an_identity_token_after(
        tmp_path: Path, started: list[RegistryServer]) -> None:
    # 4 login attempts a minute for the registry, 2 per identity
    p = _start(started, tmp_path, {"CARGOHOLD_THROTTLE_LOGINS_PER_MINUTE": "4",
                                   "CARGOHOLD_THROTTLE_IDENTITY_SHARE": "0.5"})
    params = {"service": p.server.host, "scope": "repository:any/repo:pull"}
    with httpx.Client(base_url=p.server.url, timeout=30) as c:
        def login(user: str, password: str | None = None) -> httpx.Response:
            pw = password if password is not None else p.passwords[user]
            return c.get("/oauth2/token", params=params, headers={"Authorization": _basic(user, pw)})

        assert [login("alice").status_code for _ in range(2)] == [200, 200]
        r = login("alice")  # third attempt: the registry's token is taken, alice's bucket is empty
        _assert_throttled(r.status_code, dict(r.headers), r.json(), "too many login requests: this identity")
        assert login("bob").status_code == 200  # the registry's fourth
        r = login("carol", "wrong")  # refused before any password is checked
        _assert_throttled(r.status_code, dict(r.headers), r.json(), "too many login requests: this registry")
        # logins have their own buckets: reads are unaffected
        assert c.get("/v2/", headers={"Authorization": p.auth("alice")}).status_code == 200


def test_writes_deletes_and_referrer_listings_have_their_own_buckets(tmp_path: Path,
                                                                     started: list[RegistryServer]) -> None:
    env = {"CARGOHOLD_THROTTLE_WRITES_PER_MINUTE": "4", "CARGOHOLD_THROTTLE_DELETES_PER_MINUTE": "2",
           "CARGOHOLD_THROTTLE_REFERRERS_PER_MINUTE": "2", "CARGOHOLD_THROTTLE_IDENTITY_SHARE": "0.5"}
    p = _start(started, tmp_path, env, users=())
    digest = _push_small_image(p.server, "thr/kinds")  # the owner's two writes
    with httpx.Client(base_url=p.server.url, auth=p.server.basic_auth, timeout=30) as c:
        r = c.post("/v2/thr/kinds/blobs/uploads/")
        _assert_throttled(r.status_code, dict(r.headers), r.json(), "too many write requests")
        assert c.get(f"/v2/thr/kinds/referrers/{digest}").status_code == 200
        r = c.get(f"/v2/thr/kinds/referrers/{digest}")
        _assert_throttled(r.status_code, dict(r.headers), r.json(), "too many referrer listing requests")
        assert c.get("/v2/thr/kinds/tags/list").status_code == 200  # reads: their own bucket
        assert c.get("/v2/_catalog").status_code == 200
        assert c.delete(f"/v2/thr/kinds/manifests/{digest}").status_code == 202
        r = c.delete(f"/v2/thr/kinds/manifests/{digest}")
        _assert_throttled(r.status_code, dict(r.headers), r.json(), "too many delete requests")


def test_throttling_can_be_switched_off(tmp_path: Path, started: list[RegistryServer]) -> None:
    env = {"CARGOHOLD_THROTTLING_ENABLED": "false", "CARGOHOLD_THROTTLE_READS_PER_MINUTE": "1"}
    p = _start(started, tmp_path, env)
    with httpx.Client(base_url=p.server.url, timeout=30) as c:
        assert {c.get("/v2/", headers={"Authorization": p.auth("alice")}).status_code for _ in range(20)} == {200}
    assert not (p.server.data_dir / "throttle").exists()
