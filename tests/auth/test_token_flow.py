"""The Docker token flow against a real `cargohold serve`: challenges, the token endpoint, what tokens
grant, refresh tokens, and the tokens that must not work (tampered, foreign, expired).

Issue 3: "Every protected /v2/ route answers an unauthenticated call with 401 and WWW-Authenticate:
Bearer realm="<base>/oauth2/token",service="<login server>",scope="repository:<name>:<actions>" (and
registry:catalog:* for the catalog). GET /oauth2/token with HTTP Basic credentials and POST /oauth2/token
(grant_type=password, and grant_type=refresh_token) return a signed JWT access token carrying exactly the
actions granted — a subset of those asked for, possibly empty — with a short lifetime ... Signing keys live
in the data dir, have key ids, and can be rotated without invalidating tokens still in date. Basic
credentials sent straight to /v2/ also work."
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from cargohold.core.signing_keys import KeyRing
from support import RegistryBearerAuth, RegistryServer, parse_challenge, running_registry
from support import sha256 as digest

OCTET = "application/octet-stream"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY = b"{}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Two workers, so a token issued by one is checked by the other, and key reloads happen in each."""
    with running_registry(tmp_path_factory.mktemp("auth") / "data", workers=2) as s:
        yield s


# ------------------------------------------------------------------------------------------- helpers


def repo_name(prefix: str) -> str:
    return f"auth/{prefix}-{uuid.uuid4().hex[:8]}"


def get_token(server: RegistryServer, *scopes: str, auth: Any = None, **params: str) -> httpx.Response:
    """GET /oauth2/token as docker does it: service, repeated scope, Basic credentials (the owner's by default)."""
    query: list[tuple[str, str]] = [("service", server.host), *(("scope", s) for s in scopes), *params.items()]
    return httpx.get(server.url + "/oauth2/token", params=query,
                     auth=server.basic_auth if auth is None else auth, timeout=30)


def token_of(server: RegistryServer, *scopes: str) -> str:
    r = get_token(server, *scopes)
    assert r.status_code == 200, (r.status_code, r.text)
    token = r.json()["token"]
    assert isinstance(token, str)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


# The token's `access` claim carries a subset of the scope actions asked for (core/permissions.py
# TOKEN_SCOPE_ACTIONS): Docker's pull/push/delete/* and Cargohold's metadata_read/metadata_write.
DOCKER_ACTION = {"pull": "pull", "metadata_read": "metadata_read", "push": "push", "metadata_write": "metadata_write",
                 "delete": "delete", "*": "*"}


def granted(token: str) -> dict[tuple[str, str], list[str]]:
    """The token's access claim as Docker scope actions per resource, e.g. {("repository", "a/b"): ["pull"]}."""
    out: dict[tuple[str, str], set[str]] = {}
    for entry in claims(token)["access"]:
        out.setdefault((entry["type"], entry["name"]), set()).update(DOCKER_ACTION[a] for a in entry["actions"])
    order = ["pull", "push", "delete", "*"]
    return {k: sorted(v, key=order.index) for k, v in out.items()}


def challenge_of(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 401, (resp.status_code, resp.text)
    header = resp.headers.get("WWW-Authenticate", "")
    parsed = parse_challenge(header)
    assert parsed is not None and parsed.scheme == "bearer", header
    return parsed.params


def push_blob(server: RegistryServer, repo: str, data: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST + PUT; the first refusal is returned as it is."""
    r = httpx.post(f"{server.url}/v2/{repo}/blobs/uploads/", headers=headers, timeout=30)
    if r.status_code != 202:
        return r
    return httpx.put(server.url + r.headers["Location"], params={"digest": digest(data)}, content=data,
                     headers={**headers, "Content-Type": OCTET}, timeout=30)


def manifest_for(config: bytes) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest(config),
                    "size": len(config)}],
    }).encode()


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ----------------------------------------------------------------------------------- the challenge

ROUTES = [
    # (method, path template, expected scope; None: no scope parameter)
    ("GET", "/v2/", None),
    ("HEAD", "/v2/", None),
    ("GET", "/v2/_catalog", "registry:catalog:*"),
    ("GET", "/v2/{repo}/manifests/latest", "repository:{repo}:pull"),
    ("HEAD", "/v2/{repo}/manifests/latest", "repository:{repo}:pull"),
    ("PUT", "/v2/{repo}/manifests/latest", "repository:{repo}:pull,push"),
    ("DELETE", "/v2/{repo}/manifests/{digest}", "repository:{repo}:delete"),
    ("GET", "/v2/{repo}/blobs/{digest}", "repository:{repo}:pull"),
    ("HEAD", "/v2/{repo}/blobs/{digest}", "repository:{repo}:pull"),
    ("DELETE", "/v2/{repo}/blobs/{digest}", "repository:{repo}:delete"),
    ("POST", "/v2/{repo}/blobs/uploads/", "repository:{repo}:pull,push"),
    ("GET", "/v2/{repo}/blobs/uploads/{upload}", "repository:{repo}:pull,push"),
    ("PATCH", "/v2/{repo}/blobs/uploads/{upload}", "repository:{repo}:pull,push"),
    ("PUT", "/v2/{repo}/blobs/uploads/{upload}", "repository:{repo}:pull,push"),
    ("DELETE", "/v2/{repo}/blobs/uploads/{upload}", "repository:{repo}:pull,push"),
    ("GET", "/v2/{repo}/tags/list", "repository:{repo}:pull"),
    ("GET", "/v2/{repo}/referrers/{digest}", "repository:{repo}:pull"),
]


@pytest.mark.parametrize(("method", "template", "scope"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_challenge_names_realm_service_and_scope(server: RegistryServer, method: str, template: str,
                                                 scope: str | None) -> None:
    """An unauthenticated call gets 401 with `Bearer realm="<base>/oauth2/token",service="<login server>"`
    and the scope the route needs (none for the base endpoint), and OCI error JSON (UNAUTHORIZED)."""
    repo = "team/app"
    values = {"repo": repo, "digest": digest(b"x"), "upload": str(uuid.uuid4())}
    r = httpx.request(method, server.url + template.format(**values), timeout=30)
    params = challenge_of(r)
    assert params["realm"] == f"{server.url}/oauth2/token"
    assert params["service"] == server.host
    assert params.get("scope") == (scope.format(**values) if scope else None)
    assert "error" not in params  # no credentials: no error parameter (RFC 6750 3.1)
    if method != "HEAD":
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_challenge_follows_the_host_the_client_used(server: RegistryServer) -> None:
    """The realm is built from the Host the client addressed (so clients behind a name reach the token endpoint);
    the service stays the registry's login server."""
    r = httpx.get(server.url + "/v2/", headers={"Host": f"localhost:{server.port}"}, timeout=30)
    params = challenge_of(r)
    assert params["realm"] == f"http://localhost:{server.port}/oauth2/token"
    assert params["service"] == server.host


# ---------------------------------------------------------------------------------- the token endpoint


def test_token_response_and_claims(server: RegistryServer) -> None:
    """GET /oauth2/token with Basic: token and access_token (the same JWT), expires_in, issued_at (RFC 3339);
    an ES256 JWT with a key id, for the login server, carrying exactly the actions asked for."""
    repo = repo_name("claims")
    before = int(time.time())
    r = get_token(server, f"repository:{repo}:pull")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert "no-store" in r.headers.get("Cache-Control", "")
    body = r.json()
    assert body["token"] == body["access_token"]
    assert isinstance(body["expires_in"], int) and 60 <= body["expires_in"] <= 3600
    issued = datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00"))
    assert abs(issued.timestamp() - before) < 30
    assert "refresh_token" not in body  # only when asked for (offline_token=true)

    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "ES256" and header["kid"]
    c = claims(body["token"])
    assert c["aud"] == server.host
    assert c["exp"] - c["iat"] == body["expires_in"]
    assert granted(body["token"]) == {("repository", repo): ["pull"]}  # not push, though the owner may


def test_token_grants_what_was_asked_and_nothing_else(server: RegistryServer) -> None:
    """A pull token reads its repository; pushing there, reading elsewhere and deleting get 401
    insufficient_scope with the scope that would do; a pull,push token pushes."""
    repo, other = repo_name("granted"), repo_name("other")
    owner = {"Authorization": server.auth.basic_header}
    assert push_blob(server, repo, EMPTY, owner).status_code == 201
    assert push_blob(server, other, EMPTY, owner).status_code == 201

    pull = token_of(server, f"repository:{repo}:pull")
    assert httpx.get(f"{server.url}/v2/{repo}/blobs/{digest(EMPTY)}", headers=bearer(pull)).content == EMPTY
    assert httpx.get(f"{server.url}/v2/{repo}/tags/list", headers=bearer(pull)).status_code in (200, 404)

    for method, path, scope in (
        ("POST", f"/v2/{repo}/blobs/uploads/", f"repository:{repo}:pull,push"),
        ("POST", f"/v2/{other}/blobs/uploads/", f"repository:{other}:pull,push"),
        ("GET", f"/v2/{other}/blobs/{digest(EMPTY)}", f"repository:{other}:pull"),
        ("DELETE", f"/v2/{repo}/blobs/{digest(EMPTY)}", f"repository:{repo}:delete"),
        ("GET", "/v2/_catalog", "registry:catalog:*"),
    ):
        r = httpx.request(method, server.url + path, headers=bearer(pull), timeout=30)
        params = challenge_of(r)
        assert params.get("error") == "insufficient_scope", (method, path, params)
        assert params.get("scope") == scope
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"

    push = token_of(server, f"repository:{repo}:pull,push")
    data = b"pushed with a bearer token"
    assert push_blob(server, repo, data, bearer(push)).status_code == 201
    assert push_blob(server, other, data, bearer(push)).status_code == 401  # still only its own repository

    # several scopes in one token: both repositories, and the catalog
    both = token_of(server, f"repository:{repo}:pull", f"repository:{other}:pull", "registry:catalog:*")
    assert set(granted(both)) == {("repository", repo), ("repository", other), ("registry", "catalog")}
    for name in (repo, other):
        assert httpx.head(f"{server.url}/v2/{name}/blobs/{digest(EMPTY)}", headers=bearer(both)).status_code == 200
    r = httpx.get(f"{server.url}/v2/_catalog", headers=bearer(both))
    assert r.status_code == 200 and {repo, other} <= set(r.json()["repositories"])


def test_base_endpoint_takes_a_token_without_scope(server: RegistryServer) -> None:
    """`docker login` asks for a token with no scope and checks it on GET /v2/."""
    token = token_of(server)
    assert claims(token)["access"] == []
    assert httpx.get(server.url + "/v2/", headers=bearer(token)).status_code == 200
    assert httpx.head(f"{server.url}/v2/x/manifests/latest", headers=bearer(token)).status_code == 401


def test_token_endpoint_refuses_bad_credentials(server: RegistryServer) -> None:
    """Unknown user, wrong password, no credentials (anonymous pull is off by default), malformed Basic:
    401 with OCI error JSON, and no token."""
    scope = "repository:auth/any:pull"
    for auth in (("nobody", server.password), (server.username, server.password + "x"), ("", "")):
        r = get_token(server, scope, auth=auth)
        assert r.status_code == 401, (auth[0], r.text)
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
        assert "token" not in r.json()
    r = httpx.get(server.url + "/oauth2/token", params={"service": server.host, "scope": scope})
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    r = httpx.get(server.url + "/oauth2/token", params={"service": server.host, "scope": scope},
                  headers={"Authorization": "Basic !!!not-base64"})
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_post_password_grant(server: RegistryServer) -> None:
    """POST /oauth2/token, grant_type=password, scope space-separated or repeated."""
    repo, other = repo_name("post"), repo_name("post-other")
    r = httpx.post(server.url + "/oauth2/token", data={
        "grant_type": "password", "service": server.host, "client_id": "cargohold-tests",
        "username": server.username, "password": server.password,
        "scope": f"repository:{repo}:pull,push repository:{other}:pull"})
    assert r.status_code == 200, r.text
    assert granted(r.json()["access_token"]) == {("repository", repo): ["pull", "push"],
                                                 ("repository", other): ["pull"]}
    form = urlencode([("grant_type", "password"), ("service", server.host), ("username", server.username),
                      ("password", server.password), ("scope", f"repository:{repo}:pull"),
                      ("scope", f"repository:{other}:pull")])
    r = httpx.post(server.url + "/oauth2/token", content=form,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert set(granted(r.json()["access_token"])) == {("repository", repo), ("repository", other)}
    r = httpx.post(server.url + "/oauth2/token", data={
        "grant_type": "password", "service": server.host, "username": server.username, "password": "wrong"})
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    r = httpx.post(server.url + "/oauth2/token", data={"grant_type": "magic", "service": server.host})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "UNSUPPORTED"


def test_refresh_token(server: RegistryServer) -> None:
    """offline_token=true adds a refresh_token; POST grant_type=refresh_token turns it into access tokens for
    any scope the identity holds; the refresh token itself is no access token, and a tampered one is refused."""
    repo = repo_name("refresh")
    r = get_token(server, f"repository:{repo}:pull", offline_token="true")
    assert r.status_code == 200, r.text
    refresh = r.json()["refresh_token"]
    assert claims(refresh)["typ"] == "refresh"

    r = httpx.post(server.url + "/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh, "service": server.host,
        "scope": f"repository:{repo}:pull,push"})
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    assert granted(access) == {("repository", repo): ["pull", "push"]}
    assert push_blob(server, repo, b"via refresh", bearer(access)).status_code == 201
    # the same refresh token works again (it is not single-use) — docker keeps it for its login session
    r = httpx.post(server.url + "/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh, "service": server.host,
        "scope": f"repository:{repo}:pull"})
    assert r.status_code == 200, r.text

    # a refresh token is not an access token
    r = httpx.get(f"{server.url}/v2/{repo}/blobs/{digest(b'via refresh')}", headers=bearer(refresh))
    assert challenge_of(r).get("error") == "invalid_token"
    head, _, signature = refresh.split(".")
    forged = dict(claims(refresh), sub="someone-else")
    for bad in (refresh[:-4] + ("AAAA" if refresh[-4:] != "AAAA" else "BBBB"),
                f"{head}.{b64url_encode(json.dumps(forged).encode())}.{signature}", "not-a-jwt"):
        r = httpx.post(server.url + "/oauth2/token", data={
            "grant_type": "refresh_token", "refresh_token": bad, "service": server.host,
            "scope": f"repository:{repo}:pull"})
        assert r.status_code == 401, r.text
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    # POST grant_type=password with access_type=offline also hands one out
    r = httpx.post(server.url + "/oauth2/token", data={
        "grant_type": "password", "service": server.host, "username": server.username,
        "password": server.password, "access_type": "offline"})
    assert r.status_code == 200 and claims(r.json()["refresh_token"])["typ"] == "refresh", r.text


# ------------------------------------------------------------------------------- tokens that must fail


def test_tampered_token_is_refused(server: RegistryServer) -> None:
    """A flipped signature bit, a payload widened to more actions, or `alg: none`: 401 invalid_token."""
    repo = repo_name("tamper")
    token = token_of(server, f"repository:{repo}:pull")
    assert httpx.get(f"{server.url}/v2/{repo}/tags/list", headers=bearer(token)).status_code in (200, 404)
    head, payload, signature = token.split(".")

    sig = bytearray(b64url_decode(signature))
    sig[len(sig) // 2] ^= 0x01
    flipped = f"{head}.{payload}.{b64url_encode(bytes(sig))}"
    widened_claims = claims(token)
    widened_claims["access"] = [{"type": "repository", "name": repo, "actions": ["pull", "push", "delete"]}]
    widened = f"{head}.{b64url_encode(json.dumps(widened_claims).encode())}.{signature}"
    none_head = b64url_encode(json.dumps({"alg": "none", "typ": "JWT", "kid": kid(token)}).encode())
    unsigned = f"{none_head}.{b64url_encode(json.dumps(widened_claims).encode())}."

    for bad in (flipped, widened, unsigned):
        for method, path in (("GET", f"/v2/{repo}/tags/list"), ("POST", f"/v2/{repo}/blobs/uploads/"),
                             ("GET", "/v2/")):
            r = httpx.request(method, server.url + path, headers=bearer(bad), timeout=30)
            params = challenge_of(r)
            assert params.get("error") == "invalid_token", (method, path, params)
            assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_token_from_another_registry_is_refused(server: RegistryServer, tmp_path: Path) -> None:
    """A token issued by another Cargohold (its own data dir, keys and login server) does not open this one."""
    repo = repo_name("foreign")
    with running_registry(tmp_path / "other") as other:
        r = get_token(other, f"repository:{repo}:pull,push", auth=other.basic_auth)
        assert r.status_code == 200, r.text
        foreign = r.json()["token"]
        assert httpx.get(other.url + "/v2/", headers=bearer(foreign)).status_code == 200  # good where it was issued
    for method, path in (("GET", "/v2/"), ("POST", f"/v2/{repo}/blobs/uploads/"),
                         ("GET", f"/v2/{repo}/tags/list")):
        r = httpx.request(method, server.url + path, headers=bearer(foreign), timeout=30)
        assert challenge_of(r).get("error") == "invalid_token", (method, path)


def _key(server: RegistryServer, key_id: str) -> Any:
    pem = (server.data_dir / "keys" / f"{key_id}.pem").read_bytes()
    return serialization.load_pem_private_key(pem, password=None)


def test_expired_token_is_refused(server: RegistryServer) -> None:
    """A token signed with the registry's own key whose `exp` has passed is refused (401 invalid_token);
    the same claims in date are accepted, so the expiry is what decides."""
    repo = repo_name("expired")
    real = token_of(server, f"repository:{repo}:pull,push")
    key = _key(server, kid(real))
    now = int(time.time())

    def sign(**times: int) -> str:
        return jwt.encode({**claims(real), **times, "jti": uuid.uuid4().hex}, key, algorithm="ES256",
                          headers={"kid": kid(real)})

    in_date = sign(iat=now - 10, nbf=now - 15, exp=now + 120)
    assert httpx.post(f"{server.url}/v2/{repo}/blobs/uploads/", headers=bearer(in_date)).status_code == 202
    expired = sign(iat=now - 900, nbf=now - 905, exp=now - 600)
    for method, path in (("POST", f"/v2/{repo}/blobs/uploads/"), ("GET", "/v2/")):
        r = httpx.request(method, server.url + path, headers=bearer(expired), timeout=30)
        assert challenge_of(r).get("error") == "invalid_token", (method, path)
    not_yet = sign(iat=now + 600, nbf=now + 600, exp=now + 900)
    assert challenge_of(httpx.get(server.url + "/v2/", headers=bearer(not_yet))).get("error") == "invalid_token"
    other_audience = jwt.encode({**claims(real), "aud": "elsewhere.example:443"}, key, algorithm="ES256",
                                headers={"kid": kid(real)})
    assert challenge_of(httpx.get(server.url + "/v2/", headers=bearer(other_audience))).get(
        "error") == "invalid_token"


# -------------------------------------------------------------------------------------- Basic on /v2/


def test_basic_credentials_straight_to_v2(server: RegistryServer) -> None:
    """Basic credentials on /v2/ routes work without the token endpoint: push and pull a small image."""
    repo = repo_name("basic")
    with httpx.Client(base_url=server.url, auth=server.basic_auth, timeout=30) as c:
        assert c.get("/v2/").status_code == 200
        for blob in (EMPTY,):
            r = c.post(f"/v2/{repo}/blobs/uploads/")
            assert r.status_code == 202, r.text
            r = c.put(r.headers["Location"], params={"digest": digest(blob)}, content=blob,
                      headers={"Content-Type": OCTET})
            assert r.status_code == 201, r.text
        manifest = manifest_for(EMPTY)
        r = c.put(f"/v2/{repo}/manifests/v1", content=manifest, headers={"Content-Type": MT_MANIFEST})
        assert r.status_code == 201, r.text
        r = c.get(f"/v2/{repo}/manifests/v1", headers={"Accept": MT_MANIFEST})
        assert r.status_code == 200 and r.content == manifest
        assert c.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v1"]
        assert repo in c.get("/v2/_catalog", params={"n": "1000"}).json()["repositories"]
    for auth in (("nobody", "whatever"), (server.username, server.password + "x")):
        r = httpx.get(f"{server.url}/v2/{repo}/manifests/v1", auth=auth, timeout=30)
        assert r.status_code == 401, r.text
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


# --------------------------------------------------------------------------------------- key rotation


def test_key_rotation_keeps_old_tokens_and_signs_with_the_new_key(server: RegistryServer) -> None:
    """After `KeyRing(<data-dir>/keys).rotate()` (what an operator's rotation does), tokens signed by the old
    key keep working on every worker until they expire, and new tokens carry the new key id."""
    repo = repo_name("rotate")
    old = token_of(server, f"repository:{repo}:pull,push")
    old_kid = kid(old)
    new_kid = KeyRing(server.data_dir / "keys").rotate()
    assert new_kid > old_kid  # key ids sort by creation time to the microsecond: the new key is the active one

    deadline = time.monotonic() + 10
    fresh = token_of(server, f"repository:{repo}:pull,push")
    while kid(fresh) != new_kid and time.monotonic() < deadline:
        time.sleep(0.2)
        fresh = token_of(server, f"repository:{repo}:pull,push")
    assert kid(fresh) == new_kid, "the server kept signing with the old key"

    for _ in range(6):  # new connections, so both workers answer
        for token in (old, fresh):
            r = httpx.post(f"{server.url}/v2/{repo}/blobs/uploads/", headers=bearer(token), timeout=30)
            assert r.status_code == 202, (kid(token), r.status_code, r.text)
    # a token signed by the new key straight away (as a freshly rotated worker would) verifies everywhere
    crafted = jwt.encode({**claims(old), "jti": uuid.uuid4().hex}, _key(server, new_kid), algorithm="ES256",
                         headers={"kid": new_kid})
    for _ in range(6):
        assert httpx.get(server.url + "/v2/", headers=bearer(crafted), timeout=30).status_code == 200


# ------------------------------------------------------------------------- the test helper's token flow


class _GuessPullOnly(RegistryBearerAuth):
    """Asks for pull on every repository route, so writes meet a 401 insufficient_scope first."""

    def scopes_for(self, request: httpx.Request) -> tuple[str, ...] | None:
        scopes = super().scopes_for(request)
        return tuple(s.replace(":pull,push", ":pull") for s in scopes) if scopes else scopes


def test_bearer_auth_helper_recovers_from_insufficient_scope(server: RegistryServer) -> None:
    """support.RegistryBearerAuth: a token too narrow for the request is answered with 401 insufficient_scope;
    the helper fetches a token for the challenged scope and the request succeeds, and the next such request
    uses the cached token at once."""
    repo = repo_name("helper")
    auth = _GuessPullOnly(server.username, server.password)
    with httpx.Client(base_url=server.url, auth=auth, timeout=30) as c:
        r = c.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        assert [h.status_code for h in r.history] == [401, 200, 401, 200]  # ping, token, refused, token
        assert auth.token_fetches == [(f"repository:{repo}:pull",), (f"repository:{repo}:pull,push",)]
        r = c.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202 and r.history == []
        assert len(auth.token_fetches) == 2


def test_bearer_auth_helper_returns_the_token_endpoints_refusal(server: RegistryServer) -> None:
    auth = RegistryBearerAuth("nobody", "nothing")
    with httpx.Client(base_url=server.url, auth=auth, timeout=30) as c:
        r = c.get("/v2/")
        assert r.status_code == 401
        assert r.url.path == "/oauth2/token"
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
        assert auth.token_fetches == []
