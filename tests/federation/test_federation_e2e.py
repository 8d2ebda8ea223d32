"""Workload identity federation end to end: a real OIDC issuer on 127.0.0.1, a running registry.

A workload identity trusts (issuer, subject); it holds AcrPull on `fed/*`. With nothing but a
token the issuer minted, the workload exchanges it for a refresh token, turns that into access
tokens, and pulls with skopeo and with httpx; pushing is denied. Every forged, misdirected or
stale token is refused with 401 and a failure login event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fedtools import FedServer

from cargohold.core.access import REFRESH_TOKEN_USERNAME
from support import require_tool
from support_oidc import DEFAULT_AUDIENCE, OidcIssuer

SUBJECT = "system:serviceaccount:prod:deployer"
REPO = "fed/app"
TAG = "v1"
EXCHANGE = "/oauth2/exchange"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def token(server: FedServer, username: str, password: str, *scopes: str) -> dict[str, Any]:
    r = httpx.get(server.url + "/oauth2/token", params=[("service", server.host), *(("scope", s) for s in scopes)],
                  auth=(username, password))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def push_image(server: FedServer, repo: str, tag: str) -> tuple[bytes, dict[str, bytes]]:
    """Push a one-layer image as the owner; the manifest bytes and the blobs."""
    bearer = {"Authorization": "Bearer " + token(server, "owner", server.password, f"repository:{repo}:pull,push")[
        "token"]}
    layer = tar_gz({"app/hello.txt": b"hello from a federated pull\n", "app/data": os.urandom(64 * 1024)})
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    with httpx.Client(base_url=server.url, headers=bearer) as c:
        for blob in (layer, config):
            r = c.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(blob)}, content=blob,
                       headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 201, r.text
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config),
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(layer),
                        "size": len(layer)}],
        }).encode()
        r = c.put(f"/v2/{repo}/manifests/{tag}", content=manifest,
                  headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        assert r.status_code == 201, r.text
    return manifest, {sha256(layer): layer, sha256(config): config}


def exchange(server: FedServer, oidc_token: str, *, rfc8693: bool = False, **extra: str) -> httpx.Response:
    if rfc8693:
        form = {"grant_type": TOKEN_EXCHANGE, "subject_token": oidc_token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "service": server.host}
    else:
        form = {"grant_type": "access_token", "access_token": oidc_token, "service": server.host}
    return httpx.post(server.url + EXCHANGE, data={**form, **extra})


def skopeo(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    conf = tmp / "registries.conf"
    conf.write_text("")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "XDG_RUNTIME_DIR": str(tmp),
           "CONTAINERS_REGISTRIES_CONF": str(conf), "TMPDIR": str(tmp)}
    return subprocess.run([require_tool("skopeo"), *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def workload(fed_server: FedServer, issuer: OidcIssuer) -> dict[str, Any]:
    """The workload identity (AcrPull on fed/*) trusting `issuer` for SUBJECT, and an image to pull."""
    db = fed_server.db
    identity = db.identities.workloads.create(db.registry.id, "prod-deployer", "pulls fed/* images")
    db.identities.workloads.add_federated_credential(identity.id, "k8s-prod", issuer.url, SUBJECT)
    db.assign(identity.id, "AcrPull", "fed/*")
    manifest, blobs = push_image(fed_server, REPO, TAG)
    push_image(fed_server, "other/app", TAG)
    return {"identity": identity, "manifest": manifest, "blobs": blobs}


def failures(server: FedServer) -> int:
    return len(server.db.logins(outcome="failure"))


def test_exchange_then_pull_with_skopeo_and_httpx_push_denied(
        fed_server: FedServer, issuer: OidcIssuer, workload: dict[str, Any], tmp_path: Path) -> None:
    t0 = time.monotonic()
    oidc = issuer.mint(SUBJECT)  # the only thing the workload has
    r = exchange(fed_server, oidc)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    refresh = r.json()["refresh_token"]
    exchanged = time.monotonic() - t0

    # POST /oauth2/token grant_type=refresh_token → an access token with pull only
    r = httpx.post(fed_server.url + "/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh, "service": fed_server.host,
        "scope": f"repository:{REPO}:pull,push repository:other/app:pull"})
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    granted = {a["name"]: sorted(a["actions"]) for a in jwt.decode(access, options={"verify_signature": False})[
        "access"]}
    assert granted == {REPO: ["pull"], "other/app": []}

    with httpx.Client(base_url=fed_server.url, headers={"Authorization": f"Bearer {access}"}) as c:
        m = c.get(f"/v2/{REPO}/manifests/{TAG}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        assert m.status_code == 200 and m.content == workload["manifest"]
        for digest, data in workload["blobs"].items():
            b = c.get(f"/v2/{REPO}/blobs/{digest}", follow_redirects=True)
            assert b.status_code == 200 and b.content == data
        assert c.get(f"/v2/{REPO}/tags/list").json()["tags"] == [TAG]
        # push denied: the token carries no push, and another repository gives nothing
        up = c.post(f"/v2/{REPO}/blobs/uploads/")
        assert up.status_code == 401 and 'error="insufficient_scope"' in up.headers["www-authenticate"]
        assert c.get(f"/v2/other/app/manifests/{TAG}").status_code == 401

    # docker-login style: username 00000000-0000-0000-0000-000000000000, the refresh token as password
    basic = (REFRESH_TOKEN_USERNAME, refresh)
    assert httpx.get(fed_server.url + "/v2/", auth=basic).status_code == 200
    body = token(fed_server, *basic, f"repository:{REPO}:pull,push")
    actions = jwt.decode(body["token"], options={"verify_signature": False})["access"][0]["actions"]
    assert "push" not in actions and "pull" in actions

    # skopeo: pull with the refresh token, push refused
    out = tmp_path / "pulled"
    p = skopeo(tmp_path, "copy", "--src-tls-verify=false", "--src-creds", f"{REFRESH_TOKEN_USERNAME}:{refresh}",
               f"docker://{fed_server.host}/{REPO}:{TAG}", f"dir:{out}")
    assert p.returncode == 0, p.stderr
    assert (out / "manifest.json").read_bytes() == workload["manifest"]
    for digest, data in workload["blobs"].items():
        assert (out / digest.removeprefix("sha256:")).read_bytes() == data
    p = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{REFRESH_TOKEN_USERNAME}:{refresh}",
               f"dir:{out}", f"docker://{fed_server.host}/{REPO}:pushed-by-workload")
    assert p.returncode != 0
    assert "denied" in p.stderr.lower() or "unauthorized" in p.stderr.lower(), p.stderr
    owner = token(fed_server, "owner", fed_server.password, f"repository:{REPO}:pull")["token"]
    head = httpx.head(f"{fed_server.url}/v2/{REPO}/manifests/pushed-by-workload",
                      headers={"Authorization": f"Bearer {owner}"})
    assert head.status_code == 404

    events = fed_server.db.logins(identity="prod-deployer")
    methods = {(e.method, e.outcome) for e in events}
    assert ("federated", "success") in methods and ("refresh_token", "success") in methods
    assert all(e.identity_kind == "workload" for e in events)
    print(f"\nexchange {exchanged * 1000:.0f} ms (cold issuer cache), whole flow {time.monotonic() - t0:.1f} s")


def test_rfc8693_token_exchange_and_es256(fed_server: FedServer, issuer: OidcIssuer,
                                          workload: dict[str, Any]) -> None:
    r = exchange(fed_server, issuer.mint(SUBJECT, kid="ec-1"), rfc8693=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:refresh_token"
    assert body["access_token"] == body["refresh_token"]
    pull = token(fed_server, REFRESH_TOKEN_USERNAME, body["refresh_token"], f"repository:{REPO}:pull")["token"]
    m = httpx.get(f"{fed_server.url}/v2/{REPO}/manifests/{TAG}", headers={
        "Authorization": f"Bearer {pull}", "Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert m.status_code == 200 and m.content == workload["manifest"]


def test_bad_requests_are_400(fed_server: FedServer, issuer: OidcIssuer, workload: dict[str, Any]) -> None:
    before = failures(fed_server)
    assert httpx.post(fed_server.url + EXCHANGE, data={"grant_type": "access_token"}).status_code == 400
    assert httpx.post(fed_server.url + EXCHANGE, data={"grant_type": "client_credentials"}).status_code == 400
    r = exchange(fed_server, issuer.mint(SUBJECT), service="elsewhere.example")
    assert r.status_code == 400
    r = httpx.post(fed_server.url + EXCHANGE, data={"grant_type": TOKEN_EXCHANGE, "subject_token": "x",
                                                    "subject_token_type": "urn:x:saml2"})
    assert r.status_code == 400
    assert failures(fed_server) == before


def _forged(issuer: OidcIssuer, kind: str) -> str:
    now = int(time.time())
    if kind == "wrong audience":
        return issuer.mint(SUBJECT, aud="api://not-this-registry")
    if kind == "wrong subject":
        return issuer.mint("system:serviceaccount:prod:intruder")
    if kind == "expired":
        return issuer.mint(SUBJECT, exp=now - 300)
    if kind == "unknown key":
        return issuer.mint(SUBJECT, key=issuer.unpublished_key("rsa-1-lookalike"))
    if kind == "tampered signature":
        head, payload, sig = issuer.mint(SUBJECT).split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
        raw[len(raw) // 2] ^= 0x01
        return f"{head}.{payload}.{b64url(bytes(raw))}"
    if kind == "tampered claims":
        head, _payload, sig = issuer.mint(SUBJECT, aud="api://not-this-registry").split(".")
        return f"{head}.{b64url(json.dumps(issuer.claims(SUBJECT)).encode())}.{sig}"
    header = {"typ": "JWT", "kid": "rsa-1"}
    claims = b64url(json.dumps(issuer.claims(SUBJECT)).encode())
    if kind == "alg none":
        return f"{b64url(json.dumps({**header, 'alg': 'none'}).encode())}.{claims}."
    if kind == "HS256 with the public key":
        pem = issuer.key("rsa-1").private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        signing_input = f"{b64url(json.dumps({**header, 'alg': 'HS256'}).encode())}.{claims}"
        return f"{signing_input}.{b64url(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"
    raise AssertionError(kind)


NEGATIVE = {
    "wrong audience": "audience",
    "wrong subject": "no federated credential trusts",
    "expired": "expired",
    "unknown key": "not in the issuer's JWKS",
    "tampered signature": "signature does not verify",
    "tampered claims": "signature does not verify",
    "alg none": "algorithm 'none' not accepted",
    "HS256 with the public key": "algorithm 'HS256' not accepted",
}


@pytest.mark.parametrize("kind", list(NEGATIVE))
@pytest.mark.parametrize("grant", ["access_token", "rfc8693"])
def test_forged_and_stale_tokens_are_refused(fed_server: FedServer, issuer: OidcIssuer, workload: dict[str, Any],
                                             kind: str, grant: str) -> None:
    before = failures(fed_server)
    r = exchange(fed_server, _forged(issuer, kind), rfc8693=grant == "rfc8693")
    assert r.status_code == 401, r.text
    assert r.json()["errors"][0]["message"] == "invalid federated token"
    assert "refresh_token" not in r.text
    events = fed_server.db.logins(outcome="failure")
    assert len(events) == before + 1
    event = events[0]
    assert event.method == "federated"
    assert NEGATIVE[kind] in event.reason, event.reason


def test_issuer_not_registered(fed_server: FedServer, workload: dict[str, Any]) -> None:
    before = failures(fed_server)
    with OidcIssuer() as stranger:  # a working issuer nobody registered, same subject and audience
        r = exchange(fed_server, stranger.mint(SUBJECT, aud=DEFAULT_AUDIENCE))
        assert r.status_code == 401 and r.json()["errors"][0]["message"] == "invalid federated token"
        assert stranger.requests == []  # never contacted
    event = fed_server.db.logins(outcome="failure")[0]
    assert failures(fed_server) == before + 1
    assert "no federated credential trusts issuer " + stranger.url in event.reason


def test_key_rotation_at_the_issuer_is_picked_up(fed_server: FedServer, workload: dict[str, Any]) -> None:
    with OidcIssuer() as rotating:
        db = fed_server.db
        db.identities.workloads.add_federated_credential(workload["identity"].id, "rotating", rotating.url, SUBJECT)
        assert exchange(fed_server, rotating.mint(SUBJECT, kid="rsa-1")).status_code == 200
        assert exchange(fed_server, rotating.mint(SUBJECT, kid="ec-1")).status_code == 200
        assert (rotating.fetches("openid-configuration"), rotating.fetches("keys")) == (1, 1)  # cached

        withdrawn = rotating.key("rsa-1")
        new = rotating.rotate()  # rsa-2 published; rsa-1 and ec-1 withdrawn
        t0 = time.monotonic()
        r = exchange(fed_server, rotating.mint(SUBJECT, kid=new.kid))
        assert r.status_code == 200, r.text
        print(f"\nexchange with a rotated key (JWKS refetched): {(time.monotonic() - t0) * 1000:.0f} ms")
        assert rotating.fetches("keys") == 2
        # the withdrawn key and an attacker's stream of unknown key ids: refused, and no refetch loop
        before = failures(fed_server)
        assert exchange(fed_server, rotating.mint(SUBJECT, key=withdrawn)).status_code == 401
        for n in range(10):
            bad = rotating.unpublished_key(f"attacker-{n}")
            assert exchange(fed_server, rotating.mint(SUBJECT, key=bad)).status_code == 401
        assert failures(fed_server) == before + 11
        assert rotating.fetches("keys") == 2  # rate-limited: the refetch for the new key was the last one
        db.identities.workloads.delete_federated_credential(workload["identity"].id, "rotating")
        assert exchange(fed_server, rotating.mint(SUBJECT, kid=new.kid)).status_code == 401


def test_disabled_workload_and_revoked_refresh_tokens(fed_server: FedServer, issuer: OidcIssuer,
                                                      workload: dict[str, Any]) -> None:
    r = exchange(fed_server, issuer.mint(SUBJECT))
    assert r.status_code == 200
    refresh = r.json()["refresh_token"]
    db = fed_server.db
    identity = workload["identity"]
    db.store.update_identity(identity.id, enabled=False)
    try:
        time.sleep(5.2)  # the server reuses a loaded principal for up to 5 s
        r = exchange(fed_server, issuer.mint(SUBJECT))
        assert r.status_code == 401
        assert "disabled" in db.logins(outcome="failure")[0].reason
        r = httpx.get(fed_server.url + "/oauth2/token", params={"service": fed_server.host,
                                                               "scope": f"repository:{REPO}:pull"},
                      auth=(REFRESH_TOKEN_USERNAME, refresh))
        assert r.status_code == 401
        assert db.logins(outcome="failure")[0].method == "refresh_token"
    finally:
        db.store.update_identity(identity.id, enabled=True)
