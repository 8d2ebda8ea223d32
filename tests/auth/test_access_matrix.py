"""The access matrix (issue 3, "Tested"): every data- and control-plane route x every kind of caller,
each cell allowed or denied exactly as designed.

The expected results below are written from the design — issue 3 ("Roles", "Identities"),
docs/management-api.md ("Authentication and authorization", "Scope maps", "Role assignments",
"Tokens") and DESIGN.md ("Security defaults") — not from what the server answers:

- AcrPull: pull, list tags and referrers. AcrPush: AcrPull + push. AcrDelete: delete and untag —
  nothing else (no pull, no listing). Reader: control-plane read + pull. Contributor (the admin user):
  everything but role assignments. Owner: everything. A role on `repositories/team/*` covers only the
  repositories below `team/` and never opens the control plane.
- Scope-map actions: `content/read` = pull, `content/write` = push, `content/delete` = delete/untag,
  `metadata/read` = list tags and referrers. Tokens never list the catalog and never use /api/.
- The catalog lists only what the caller may read; a caller who may read nothing may not list it.
- Automatic and explicit cross-repository mounts link a blob only from a repository the caller may read;
  otherwise the POST starts an ordinary upload (202).
- A disabled token, an expired password, a tampered JWT and a token signed by another registry
  authenticate nobody: 401 everywhere. Anonymous callers get 401 while anonymous pull is off (the default).

Cell values: `ok` = the route's success status; `201`/`202` = that status (mounts: 201 when the blob was
mounted, 202 when an upload was started instead); `no` = authenticated but lacking the right; `401` =
not authenticated. How `no` and `401` look depends on how the caller authenticates:

- bearer (the Docker token flow: GET /oauth2/token with Basic credentials, then `Authorization: Bearer`):
  `no` is 401 UNAUTHORIZED with `WWW-Authenticate: Bearer ...,error="insufficient_scope"`; `401` is 401
  UNAUTHORIZED (from the token endpoint when it refuses the credentials, or from /v2/ with
  `error="invalid_token"` for a token presented as is);
- basic (credentials straight to /v2/): `no` is 403 DENIED; `401` is 401 with `error="invalid_token"`;
- anonymous: 401 with a Bearer challenge (realm, service, scope) and no error;
- /api/ takes Basic credentials only: `no` is 403 DENIED, `401` is 401 UNAUTHORIZED with a Basic challenge.

Principals — the matrix columns (all made through /api/ as the owner, except frgn):
  anon  no credentials                         own   the registry's owner
  pull  user, AcrPull on the registry          adm   the admin user (enabled through the API; Contributor)
  pulT  user, AcrPull on repositories/team/*   none  a user without any role
  push  user, AcrPush on the registry          tRO   token, system scope map _repositories_pull (content/read)
  pusT  user, AcrPush on repositories/team/*   tPu   token, content/read+write, metadata/read on team/app only
  del   user, AcrDelete on the registry        tOff  a disabled token (_repositories_admin)
  rdr   user, Reader on the registry           tExp  a token (_repositories_admin) whose password has expired
  tamp  a tampered JWT — bearer: `none`'s access token with its claims widened to every action, signature
        kept; basic: the refresh-token username with `none`'s refresh token rewritten to name the owner
  frgn  the owner of another registry — bearer: its access token; basic: its refresh token

Repositories: `team/app` and `other/app` (an image tagged v1 each), `team/base` (a mount source).

Beyond the table: what the catalog lists (only team/... for team roles, page by page), that not even an
all-repositories token lists it, that upload sessions are bound to their repository and their principal,
and the anonymous-pull switch (off by default; on: pull but no push, delete or catalog).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from support import RegistryBearerAuth, RegistryServer, parse_challenge
from support import sha256 as digest

TEAM = "team/app"
OTHER = "other/app"
BASE = "team/base"
REFRESH_USER = "00000000-0000-0000-0000-000000000000"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCTET = "application/octet-stream"

# The columns of the matrices, and the names the test ids use.
NAMES = {"anon": "anonymous", "pull": "AcrPull", "pulT": "AcrPull-team", "push": "AcrPush", "pusT": "AcrPush-team",
         "del": "AcrDelete", "rdr": "Reader", "own": "owner", "adm": "admin-user", "none": "no-role",
         "tRO": "token-read", "tPu": "token-push-one-repo", "tOff": "token-disabled", "tExp": "token-expired",
         "tamp": "tampered-jwt", "frgn": "foreign-registry"}
PRINCIPALS = list(NAMES)

# ----------------------------------------------------------------------------------------- the matrix

# Rows name the route and the repository (@team = team/app, @other = other/app). Mount rows start an
# upload in team/app for a blob that only `from`/the named repository holds.
V2_MATRIX = """
route                             anon pull pulT push pusT del  rdr  own  adm  none tRO  tPu  tOff tExp tamp frgn
GET /v2/                          401  ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   401  401  401  401
GET /v2/_catalog                  401  ok   ok   ok   ok   no   ok   ok   ok   no   no   no   401  401  401  401
GET tags/list @team               401  ok   ok   ok   ok   no   ok   ok   ok   no   no   ok   401  401  401  401
GET tags/list @other              401  ok   no   ok   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET referrers @team               401  ok   ok   ok   ok   no   ok   ok   ok   no   no   ok   401  401  401  401
GET referrers @other              401  ok   no   ok   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET manifest by tag @team         401  ok   ok   ok   ok   no   ok   ok   ok   no   ok   ok   401  401  401  401
GET manifest by tag @other        401  ok   no   ok   no   no   ok   ok   ok   no   ok   no   401  401  401  401
GET manifest by digest @team      401  ok   ok   ok   ok   no   ok   ok   ok   no   ok   ok   401  401  401  401
GET manifest by digest @other     401  ok   no   ok   no   no   ok   ok   ok   no   ok   no   401  401  401  401
HEAD manifest by tag @team        401  ok   ok   ok   ok   no   ok   ok   ok   no   ok   ok   401  401  401  401
HEAD manifest by tag @other       401  ok   no   ok   no   no   ok   ok   ok   no   ok   no   401  401  401  401
HEAD manifest by digest @team     401  ok   ok   ok   ok   no   ok   ok   ok   no   ok   ok   401  401  401  401
HEAD manifest by digest @other    401  ok   no   ok   no   no   ok   ok   ok   no   ok   no   401  401  401  401
PUT manifest by tag @team         401  no   no   ok   ok   no   no   ok   ok   no   no   ok   401  401  401  401
PUT manifest by tag @other        401  no   no   ok   no   no   no   ok   ok   no   no   no   401  401  401  401
PUT manifest by digest @team      401  no   no   ok   ok   no   no   ok   ok   no   no   ok   401  401  401  401
PUT manifest by digest @other     401  no   no   ok   no   no   no   ok   ok   no   no   no   401  401  401  401
DELETE manifest by tag @team      401  no   no   no   no   ok   no   ok   ok   no   no   no   401  401  401  401
DELETE manifest by tag @other     401  no   no   no   no   ok   no   ok   ok   no   no   no   401  401  401  401
DELETE manifest by digest @team   401  no   no   no   no   ok   no   ok   ok   no   no   no   401  401  401  401
DELETE manifest by digest @other  401  no   no   no   no   ok   no   ok   ok   no   no   no   401  401  401  401
GET blob @team                    401  ok   ok   ok   ok   no   ok   ok   ok   no   ok   ok   401  401  401  401
GET blob @other                   401  ok   no   ok   no   no   ok   ok   ok   no   ok   no   401  401  401  401
HEAD blob @team                   401  ok   ok   ok   ok   no   ok   ok   ok   no   ok   ok   401  401  401  401
HEAD blob @other                  401  ok   no   ok   no   no   ok   ok   ok   no   ok   no   401  401  401  401
DELETE blob @team                 401  no   no   no   no   ok   no   ok   ok   no   no   no   401  401  401  401
DELETE blob @other                401  no   no   no   no   ok   no   ok   ok   no   no   no   401  401  401  401
POST upload @team                 401  no   no   ok   ok   no   no   ok   ok   no   no   ok   401  401  401  401
POST upload @other                401  no   no   ok   no   no   no   ok   ok   no   no   no   401  401  401  401
POST monolithic upload @team      401  no   no   ok   ok   no   no   ok   ok   no   no   ok   401  401  401  401
POST monolithic upload @other     401  no   no   ok   no   no   no   ok   ok   no   no   no   401  401  401  401
PATCH upload @team                401  no   no   ok   ok   no   no   ok   ok   no   no   ok   401  401  401  401
PATCH upload @other               401  no   no   ok   no   no   no   ok   ok   no   no   no   401  401  401  401
PUT upload @team                  401  no   no   ok   ok   no   no   ok   ok   no   no   ok   401  401  401  401
PUT upload @other                 401  no   no   ok   no   no   no   ok   ok   no   no   no   401  401  401  401
GET upload @team                  401  no   no   ok   ok   no   no   ok   ok   no   no   ok   401  401  401  401
GET upload @other                 401  no   no   ok   no   no   no   ok   ok   no   no   no   401  401  401  401
DELETE upload @team               401  no   no   ok   ok   no   no   ok   ok   no   no   ok   401  401  401  401
DELETE upload @other              401  no   no   ok   no   no   no   ok   ok   no   no   no   401  401  401  401
POST mount from=team/base         401  no   no   201  201  no   no   201  201  no   no   202  401  401  401  401
POST mount from=other/app         401  no   no   201  202  no   no   201  201  no   no   202  401  401  401  401
POST mount auto, in team/base     401  no   no   201  201  no   no   201  201  no   no   202  401  401  401  401
POST mount auto, in other/app     401  no   no   201  202  no   no   201  201  no   no   202  401  401  401  401
"""

# /api/: reads need Reader/Contributor/Owner on the registry, writes Contributor/Owner (the admin user
# has Contributor's rights), role assignments Owner; tokens authenticate but are refused (403).
API_MATRIX = """
route                                  anon pull pulT push pusT del  rdr  own  adm  none tRO  tPu  tOff tExp tamp frgn
GET registry                           401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET registry/credentials               401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET scope-maps                         401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET scope-maps/{name}                  401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET tokens                             401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET tokens/{name}                      401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET role-assignments                   401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET users                              401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET users/{name}                       401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET service-principals                 401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET service-principals/{id}            401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET workload-identities                401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET workload-identities/{name}         401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
GET logs/login                         401  no   no   no   no   no   ok   ok   ok   no   no   no   401  401  401  401
PATCH registry                         401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST registry/credentials/regenerate   401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST scope-maps                        401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
PATCH scope-maps/{name}                401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
DELETE scope-maps/{name}               401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST tokens                            401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
PATCH tokens/{name}                    401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST tokens/{name}/credentials         401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
DELETE tokens/{name}/credentials/{pw}  401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
DELETE tokens/{name}                   401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST users                             401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
DELETE users/{name}                    401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST service-principals                401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST service-principals/{id}/reset     401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
DELETE service-principals/{id}         401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST workload-identities               401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
DELETE workload-identities/{name}      401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST workload-identities/{name}/fc     401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
DELETE workload-identities/{name}/fc   401  no   no   no   no   no   no   ok   ok   no   no   no   401  401  401  401
POST role-assignments                  401  no   no   no   no   no   no   ok   no   no   no   no   401  401  401  401
DELETE role-assignments/{id}           401  no   no   no   no   no   no   ok   no   no   no   no   401  401  401  401
"""


def parse_matrix(text: str) -> dict[str, dict[str, str]]:
    """route -> principal -> expected; the route is the first column (up to where `anon` starts)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    cut = lines[0].index("anon")
    assert lines[0][cut:].split() == PRINCIPALS, lines[0]
    table: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        route, cells = line[:cut].strip(), line[cut:].split()
        assert len(cells) == len(PRINCIPALS) and route not in table, line
        assert all(c in ("ok", "no", "401", "201", "202") for c in cells), line
        table[route] = dict(zip(PRINCIPALS, cells, strict=True))
    return table


V2 = parse_matrix(V2_MATRIX)
API = parse_matrix(API_MATRIX)

# How each principal calls /v2/: through the Docker token flow (bearer) and with Basic credentials.
MODES = {p: (("anon",) if p == "anon" else ("bearer", "basic")) for p in PRINCIPALS}


def slug(route: str) -> str:
    """A route as a test id part `pytest -k` can match: `GET manifest by tag @team` -> `GET-manifest-by-tag:team/app`,
    `DELETE tokens/{name}` -> `DELETE-tokens/name`."""
    route = route.replace(" @team", f":{TEAM}").replace(" @other", f":{OTHER}")
    return "-".join(route.replace(",", "").replace("=", "-").replace("{", "").replace("}", "").split())


# ------------------------------------------------------------------------------------------ helpers


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def with_claims(token: str, claims: dict[str, Any]) -> str:
    """The same header and signature over different claims: a tampered token."""
    head, _, signature = token.split(".")
    return f"{head}.{b64url(json.dumps(claims).encode())}.{signature}"


def describe(r: httpx.Response) -> str:
    return (f"{r.request.method} {r.request.url} -> {r.status_code} "
            f"WWW-Authenticate={r.headers.get('WWW-Authenticate')!r} body={r.text[:300]!r}")


def error_code(r: httpx.Response) -> str | None:
    """The OCI error code of a response (None for a HEAD or an empty body)."""
    if r.request.method == "HEAD" or not r.content:
        return None
    try:
        return str(r.json()["errors"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        return "(no OCI error body)"


def bearer_token(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


@dataclass
class Seeded:
    """An image in a repository: config, layer, manifest tagged v1."""

    config: bytes
    layer: bytes
    manifest: bytes

    @property
    def manifest_digest(self) -> str:
        return digest(self.manifest)

    def manifest_with(self, note: str) -> bytes:
        """A new manifest over the same blobs (so it can be pushed into the same repository)."""
        return json.dumps({
            "schemaVersion": 2, "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": digest(self.config), "size": len(self.config)},
            "layers": [{"mediaType": MT_LAYER, "digest": digest(self.layer), "size": len(self.layer)}],
            "annotations": {"cell": note},
        }).encode()


@dataclass
class World:
    """One registry with every principal, and the owner's clients to prepare each cell."""

    server: RegistryServer
    owner_v2: httpx.Client  # Basic as the owner on /v2/
    owner_api: httpx.Client  # Basic as the owner on /api/
    creds: dict[str, tuple[str, str]]  # principal -> (username, password) for Basic / the token endpoint
    bearer_tokens: dict[str, str]  # principal -> an access token presented as is (tampered, foreign)
    seeded: dict[str, Seeded]
    sentinels: dict[str, str]
    clients: dict[tuple[str, str, str], httpx.Client] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, principal: str, mode: str, plane: str = "v2") -> httpx.Client:
        """The principal's client (one per way of authenticating; shared by the threads asking the cells)."""
        key = (principal, mode, plane)
        with self.lock:
            if key not in self.clients:
                base = self.server.url + ("/api" if plane == "api" else "")
                auth: httpx.Auth | None = None
                headers: dict[str, str] = {}
                if mode == "bearer" and principal in self.bearer_tokens:
                    headers["Authorization"] = f"Bearer {self.bearer_tokens[principal]}"
                elif mode == "bearer":
                    auth = RegistryBearerAuth(*self.creds[principal])
                elif mode == "basic":
                    auth = httpx.BasicAuth(*self.creds[principal])
                self.clients[key] = httpx.Client(base_url=base, auth=auth, headers=headers, timeout=30.0)
            return self.clients[key]

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        self.owner_v2.close()
        self.owner_api.close()

    # --- preparing cells, as the owner ----------------------------------------------------------

    def blob(self, repo: str, data: bytes | None = None) -> str:
        data = data if data is not None else secrets.token_bytes(64)
        r = self.owner_v2.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest(data)}, content=data,
                               headers={"Content-Type": OCTET})
        assert r.status_code == 201, describe(r)
        return digest(data)

    def manifest(self, repo: str) -> tuple[str, str]:
        """A new manifest pushed into `repo` under a new tag: (tag, digest)."""
        body = self.seeded[repo].manifest_with(uuid.uuid4().hex)
        tag = "t-" + uuid.uuid4().hex[:10]
        r = self.owner_v2.put(f"/v2/{repo}/manifests/{tag}", content=body, headers={"Content-Type": MT_MANIFEST})
        assert r.status_code == 201, describe(r)
        return tag, digest(body)

    def upload(self, repo: str, client: httpx.Client) -> str:
        r = client.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, describe(r)
        return r.headers["Location"]

    def api(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = self.owner_api.request(method, path, json=body)
        assert r.status_code == status, describe(r)
        return r.json() if r.content else None


def seed_image(owner: httpx.Client, repo: str) -> Seeded:
    config = json.dumps({"architecture": "amd64", "os": "linux", "note": repo,
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = secrets.token_bytes(256)
    for blob in (config, layer):
        r = owner.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest(blob)}, content=blob,
                       headers={"Content-Type": OCTET})
        assert r.status_code == 201, describe(r)
    seeded = Seeded(config, layer, b"")
    seeded.manifest = seeded.manifest_with("v1")
    r = owner.put(f"/v2/{repo}/manifests/v1", content=seeded.manifest, headers={"Content-Type": MT_MANIFEST})
    assert r.status_code == 201, describe(r)
    return seeded


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


BROAD_SCOPES = [f"repository:{TEAM}:pull,push,delete", f"repository:{OTHER}:pull,push,delete",
                f"repository:{BASE}:pull,push,delete", "registry:catalog:*"]


def token_endpoint(server: RegistryServer, auth: tuple[str, str] | None, *scopes: str) -> httpx.Response:
    return httpx.get(server.url + "/oauth2/token", params=[("service", server.host), *(("scope", s) for s in scopes)],
                     auth=auth, timeout=30)


def refresh_token(server: RegistryServer, username: str, password: str) -> str:
    r = httpx.post(server.url + "/oauth2/exchange", data={"grant_type": "password", "username": username,
                                                          "password": password}, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["refresh_token"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("access-matrix")
    # One worker: every change made through /api/ is in effect at once. Throttling has its own tests.
    server = RegistryServer(root / "data", workers=1, extra_env={"CARGOHOLD_THROTTLING_ENABLED": "false"})
    other = RegistryServer(root / "other-registry", workers=1)  # for the foreign tokens
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(s.start) for s in (server, other)]
    try:
        for f in started:
            f.result()
        owner_api = httpx.Client(base_url=server.url + "/api", auth=server.basic_auth, timeout=30.0)
        owner_v2 = httpx.Client(base_url=server.url, auth=server.basic_auth, timeout=30.0)
        w = World(server, owner_v2, owner_api, {"own": (server.username, server.password)}, {}, {}, {})
        try:
            _make_principals(w, other)
            yield w
        finally:
            w.close()
    finally:
        other.stop()
        server.stop()


def _make_principals(w: World, other: RegistryServer) -> None:
    server = w.server
    # The expired password first, so that its seconds run out while everything else is made. The dead
    # tokens get one password each: every refused attempt costs the server an argon2 verification per password.
    expires = time.monotonic() + 2.0
    w.api("POST", "/tokens", {"name": "expired-token", "scopeMapName": "_repositories_admin", "noPasswords": True},
          201)
    made = w.api("POST", "/tokens/expired-token/credentials", {"name": "password1", "expiry": in_seconds(2.0)})
    w.creds["tExp"] = ("expired-token", made["credentials"]["passwords"][0]["value"])
    w.api("POST", "/tokens", {"name": "token-off", "scopeMapName": "_repositories_admin", "noPasswords": True,
                              "status": "disabled"}, 201)
    made = w.api("POST", "/tokens/token-off/credentials", {"name": "password1"})
    w.creds["tOff"] = ("token-off", made["credentials"]["passwords"][0]["value"])

    for principal, role, scope in [("pull", "AcrPull", ""), ("pulT", "AcrPull", "repositories/team/*"),
                                   ("push", "AcrPush", ""), ("pusT", "AcrPush", "repositories/team/*"),
                                   ("del", "AcrDelete", ""), ("rdr", "Reader", ""), ("none", None, "")]:
        name, password = f"user-{principal}", "pw-" + secrets.token_urlsafe(16)
        w.api("POST", "/users", {"name": name, "password": password}, 201)
        if role:
            w.api("POST", "/role-assignments", {"assignee": name, "role": role, "scope": scope}, 201)
        w.creds[principal] = (name, password)

    enabled = w.api("PATCH", "/registry", {"adminUserEnabled": True})
    admin = enabled["adminCredentials"]
    w.creds["adm"] = (admin["username"], next(p["value"] for p in admin["passwords"] if p["name"] == "password"))

    for principal, body in [
        ("tRO", {"name": "token-read", "scopeMapName": "_repositories_pull"}),
        ("tPu", {"name": "token-push", "repositories": [TEAM],
                 "actions": ["content/read", "content/write", "metadata/read"]}),
    ]:
        made = w.api("POST", "/tokens", body, 201)
        w.creds[principal] = (body["name"], made["credentials"]["passwords"][0]["value"])

    # Sentinels: what denied /api/ cells aim at (allowed cells get objects of their own).
    w.api("POST", "/scope-maps", {"name": "sentinel-map", "actions": ["repositories/sentinel/content/read"]}, 201)
    w.api("POST", "/tokens", {"name": "sentinel-token", "scopeMapName": "sentinel-map"}, 201)
    w.api("POST", "/users", {"name": "sentinel-user", "password": "pw-" + secrets.token_urlsafe(12)}, 201)
    sp = w.api("POST", "/service-principals", {"name": "sentinel-sp"}, 201)
    w.api("POST", "/workload-identities", {"name": "sentinel-workload"}, 201)
    w.api("POST", "/workload-identities/sentinel-workload/federated-credentials",
          {"name": "sentinel-fc", "issuer": "https://issuer.example", "subject": "sentinel"}, 201)
    assignment = w.api("POST", "/role-assignments", {"assignee": "sentinel-user", "role": "AcrPull",
                                                     "scope": "repositories/sentinel/*"}, 201)
    w.sentinels.update(sp=sp["clientId"], assignment=assignment["id"])

    for repo in (TEAM, OTHER, BASE):
        w.seeded[repo] = seed_image(w.owner_v2, repo)

    # Tampered: the no-role user's own access token, its claims widened to every action (signature kept);
    # and its refresh token rewritten to name the owner.
    norole = w.creds["none"]
    real = bearer_token(token_endpoint(server, norole, *BROAD_SCOPES))
    widened = jwt_claims(real)
    everything = ["delete", "metadata_read", "metadata_write", "pull", "push", "sign", "*"]
    widened["access"] = [{"type": "repository", "name": repo, "actions": everything} for repo in (TEAM, OTHER, BASE)]
    widened["access"].append({"type": "registry", "name": "catalog", "actions": ["*"]})
    widened["rp"] = ["*"]
    w.bearer_tokens["tamp"] = with_claims(real, widened)
    owner_sub = jwt_claims(refresh_token(server, *w.creds["own"]))["sub"]
    norole_refresh = refresh_token(server, *norole)
    w.creds["tamp"] = (REFRESH_USER, with_claims(norole_refresh, {**jwt_claims(norole_refresh), "sub": owner_sub}))

    # Foreign: the owner of another registry — every right there, none here.
    w.bearer_tokens["frgn"] = bearer_token(token_endpoint(other, (other.username, other.password), *BROAD_SCOPES))
    w.creds["frgn"] = (REFRESH_USER, refresh_token(other, other.username, other.password))

    time.sleep(max(0.0, expires - time.monotonic() + 0.2))


# --------------------------------------------------------------------------------------- the /v2/ cells

Op = Callable[[World, httpx.Client, str, str], httpx.Response]
ACCEPT = {"Accept": MT_MANIFEST}


def _session(w: World, c: httpx.Client, repo: str, principal: str) -> str:
    """An upload session to act on: the principal's own when the design lets it start one, else the owner's."""
    may_start = V2[f"POST upload {'@team' if repo == TEAM else '@other'}"][principal] == "ok"
    return w.upload(repo, c if may_start else w.owner_v2)


def _put_manifest(by_digest: bool) -> Op:
    def op(w: World, c: httpx.Client, repo: str, principal: str) -> httpx.Response:
        body = w.seeded[repo].manifest_with(uuid.uuid4().hex)
        ref = digest(body) if by_digest else "t-" + uuid.uuid4().hex[:10]
        return c.put(f"/v2/{repo}/manifests/{ref}", content=body, headers={"Content-Type": MT_MANIFEST})
    return op


def _delete_manifest(by_digest: bool) -> Op:
    def op(w: World, c: httpx.Client, repo: str, principal: str) -> httpx.Response:
        tag, dg = w.manifest(repo)
        return c.delete(f"/v2/{repo}/manifests/{dg if by_digest else tag}")
    return op


def _mount(source: str, explicit: bool) -> Op:
    def op(w: World, c: httpx.Client, repo: str, principal: str) -> httpx.Response:
        blob = w.blob(source)  # held by `source` only
        params = {"mount": blob, **({"from": source} if explicit else {})}
        return c.post(f"/v2/{repo}/blobs/uploads/", params=params)
    return op


def _monolithic(w: World, c: httpx.Client, repo: str, principal: str) -> httpx.Response:
    data = secrets.token_bytes(48)
    return c.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest(data)}, content=data,
                  headers={"Content-Type": OCTET})


def _patch(w: World, c: httpx.Client, repo: str, principal: str) -> httpx.Response:
    data = secrets.token_bytes(32)
    return c.patch(_session(w, c, repo, principal), content=data,
                   headers={"Content-Type": OCTET, "Content-Range": f"0-{len(data) - 1}"})


def _put_upload(w: World, c: httpx.Client, repo: str, principal: str) -> httpx.Response:
    data = secrets.token_bytes(32)
    return c.put(_session(w, c, repo, principal), params={"digest": digest(data)}, content=data,
                 headers={"Content-Type": OCTET})


V2_OPS: dict[str, tuple[Op, int]] = {
    "GET /v2/": (lambda w, c, repo, p: c.get("/v2/"), 200),
    "GET /v2/_catalog": (lambda w, c, repo, p: c.get("/v2/_catalog", params={"n": "1000"}), 200),
    "GET tags/list": (lambda w, c, repo, p: c.get(f"/v2/{repo}/tags/list"), 200),
    "GET referrers": (lambda w, c, repo, p: c.get(f"/v2/{repo}/referrers/{w.seeded[repo].manifest_digest}"), 200),
    "GET manifest by tag": (lambda w, c, repo, p: c.get(f"/v2/{repo}/manifests/v1", headers=ACCEPT), 200),
    "GET manifest by digest": (lambda w, c, repo, p: c.get(f"/v2/{repo}/manifests/{w.seeded[repo].manifest_digest}",
                                                           headers=ACCEPT), 200),
    "HEAD manifest by tag": (lambda w, c, repo, p: c.head(f"/v2/{repo}/manifests/v1", headers=ACCEPT), 200),
    "HEAD manifest by digest": (lambda w, c, repo, p: c.head(
        f"/v2/{repo}/manifests/{w.seeded[repo].manifest_digest}", headers=ACCEPT), 200),
    "PUT manifest by tag": (_put_manifest(by_digest=False), 201),
    "PUT manifest by digest": (_put_manifest(by_digest=True), 201),
    "DELETE manifest by tag": (_delete_manifest(by_digest=False), 202),
    "DELETE manifest by digest": (_delete_manifest(by_digest=True), 202),
    "GET blob": (lambda w, c, repo, p: c.get(f"/v2/{repo}/blobs/{digest(w.seeded[repo].layer)}"), 200),
    "HEAD blob": (lambda w, c, repo, p: c.head(f"/v2/{repo}/blobs/{digest(w.seeded[repo].layer)}"), 200),
    "DELETE blob": (lambda w, c, repo, p: c.delete(f"/v2/{repo}/blobs/{w.blob(repo)}"), 202),
    "POST upload": (lambda w, c, repo, p: c.post(f"/v2/{repo}/blobs/uploads/"), 202),
    "POST monolithic upload": (_monolithic, 201),
    "PATCH upload": (_patch, 202),
    "PUT upload": (_put_upload, 201),
    "GET upload": (lambda w, c, repo, p: c.get(_session(w, c, repo, p)), 204),
    "DELETE upload": (lambda w, c, repo, p: c.delete(_session(w, c, repo, p)), 204),
    "POST mount from=team/base": (_mount(BASE, explicit=True), 0),
    "POST mount from=other/app": (_mount(OTHER, explicit=True), 0),
    "POST mount auto, in team/base": (_mount(BASE, explicit=False), 0),
    "POST mount auto, in other/app": (_mount(OTHER, explicit=False), 0),
}


def _v2_row(row: str) -> tuple[Op, int, str]:
    base, _, where = row.partition(" @")
    op, status = V2_OPS[base]
    return op, status, {"team": TEAM, "other": OTHER, "": TEAM}[where]


def _v2_cells() -> list[Any]:
    return [pytest.param(row, principal, mode, id=f"v2:{slug(row)}:{NAMES[principal]}:{mode}")
            for row in V2 for principal in PRINCIPALS for mode in MODES[principal]]


def test_matrix_covers_every_route() -> None:
    assert {row.partition(" @")[0] for row in V2} == set(V2_OPS)
    assert set(API) == set(API_OPS)


def check_denied_or_unauthenticated(expected: str, mode: str, r: httpx.Response) -> None:
    code = error_code(r)
    challenge = parse_challenge(r.headers.get("WWW-Authenticate", ""))
    if expected == "no" and mode == "basic":
        assert r.status_code == 403, describe(r)
        assert code in (None, "DENIED"), describe(r)
        return
    assert r.status_code == 401, describe(r)
    assert code in (None, "UNAUTHORIZED"), describe(r)
    assert challenge is not None, describe(r)
    if r.request.url.path == "/oauth2/token":  # the token endpoint refused the credentials
        assert expected == "401" and mode == "bearer", describe(r)
        assert challenge.scheme == "basic", describe(r)
        return
    assert challenge.scheme == "bearer" and challenge.realm.endswith("/oauth2/token"), describe(r)
    assert challenge.service == r.request.url.netloc.decode(), describe(r)
    if expected == "no":
        assert challenge.error == "insufficient_scope", describe(r)
    elif mode == "anon":
        assert challenge.error == "", describe(r)
        if r.request.url.path not in ("/v2/", "/v2"):
            assert challenge.scopes, describe(r)
    else:
        assert challenge.error == "invalid_token", describe(r)


@pytest.mark.parametrize(("row", "principal", "mode"), _v2_cells())
def test_v2(answers: Answers, row: str, principal: str, mode: str) -> None:
    _, status, _ = _v2_row(row)
    expected = V2[row][principal]
    r = answers.get(("v2", row, principal, mode))
    if expected in ("ok", "201", "202"):
        want = status if expected == "ok" else int(expected)
        assert r.status_code == want, describe(r)
    else:
        check_denied_or_unauthenticated(expected, mode, r)


# --------------------------------------------------------------------------------------- the /api/ cells

ApiOp = Callable[[World, httpx.Client, bool], httpx.Response]


def _fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _victim_scope_map(w: World, own: bool) -> str:
    if not own:
        return "sentinel-map"
    name = _fresh("map")
    w.api("POST", "/scope-maps", {"name": name, "actions": ["repositories/victim/content/read"]}, 201)
    return name


def _victim_token(w: World, own: bool, passwords: bool = False) -> str:
    if not own:
        return "sentinel-token"
    name = _fresh("tok")
    w.api("POST", "/tokens", {"name": name, "scopeMapName": "sentinel-map", "noPasswords": not passwords}, 201)
    return name


def _victim_user(w: World, own: bool) -> str:
    if not own:
        return "sentinel-user"
    name = _fresh("victim")
    w.api("POST", "/users", {"name": name, "password": "pw-" + secrets.token_urlsafe(12)}, 201)
    return name


def _victim_sp(w: World, own: bool) -> str:
    if not own:
        return w.sentinels["sp"]
    return str(w.api("POST", "/service-principals", {"name": "victim"}, 201)["clientId"])


def _victim_workload(w: World, own: bool, credential: bool = False) -> str:
    if not own:
        return "sentinel-workload"
    name = _fresh("wl")
    w.api("POST", "/workload-identities", {"name": name}, 201)
    if credential:
        w.api("POST", f"/workload-identities/{name}/federated-credentials",
              {"name": "sentinel-fc", "issuer": "https://issuer.example", "subject": name}, 201)
    return name


def _victim_assignment(w: World, own: bool) -> str:
    if not own:
        return w.sentinels["assignment"]
    made = w.api("POST", "/role-assignments", {"assignee": "sentinel-user", "role": "AcrPull",
                                               "scope": f"repositories/{_fresh('victim')}/*"}, 201)
    return str(made["id"])


# (request maker, success status); `own` says whether the cell is expected to succeed (and so needs an object of
# its own to change) — denied cells aim at the shared sentinels.
API_OPS: dict[str, tuple[ApiOp, int]] = {
    "GET registry": (lambda w, c, own: c.get("/registry"), 200),
    "GET registry/credentials": (lambda w, c, own: c.get("/registry/credentials"), 200),
    "GET scope-maps": (lambda w, c, own: c.get("/scope-maps"), 200),
    "GET scope-maps/{name}": (lambda w, c, own: c.get("/scope-maps/_repositories_pull"), 200),
    "GET tokens": (lambda w, c, own: c.get("/tokens"), 200),
    "GET tokens/{name}": (lambda w, c, own: c.get("/tokens/sentinel-token"), 200),
    "GET role-assignments": (lambda w, c, own: c.get("/role-assignments"), 200),
    "GET users": (lambda w, c, own: c.get("/users"), 200),
    "GET users/{name}": (lambda w, c, own: c.get("/users/owner"), 200),
    "GET service-principals": (lambda w, c, own: c.get("/service-principals"), 200),
    "GET service-principals/{id}": (lambda w, c, own: c.get(f"/service-principals/{w.sentinels['sp']}"), 200),
    "GET workload-identities": (lambda w, c, own: c.get("/workload-identities"), 200),
    "GET workload-identities/{name}": (lambda w, c, own: c.get("/workload-identities/sentinel-workload"), 200),
    "GET logs/login": (lambda w, c, own: c.get("/logs/login", params={"top": "5"}), 200),
    "PATCH registry": (lambda w, c, own: c.patch("/registry", json={}), 200),
    "POST registry/credentials/regenerate": (
        lambda w, c, own: c.post("/registry/credentials/regenerate", json={"name": "password2"}), 200),
    "POST scope-maps": (lambda w, c, own: c.post("/scope-maps", json={
        "name": _fresh("map"), "actions": ["repositories/victim/content/read"]}), 201),
    "PATCH scope-maps/{name}": (lambda w, c, own: c.patch(f"/scope-maps/{_victim_scope_map(w, own)}", json={
        "addActions": ["repositories/victim/metadata/read"]}), 200),
    "DELETE scope-maps/{name}": (lambda w, c, own: c.delete(f"/scope-maps/{_victim_scope_map(w, own)}"), 204),
    "POST tokens": (lambda w, c, own: c.post("/tokens", json={
        "name": _fresh("tok"), "scopeMapName": "sentinel-map", "noPasswords": True}), 201),
    "PATCH tokens/{name}": (lambda w, c, own: c.patch(f"/tokens/{_victim_token(w, own)}", json={
        "status": "enabled"}), 200),
    "POST tokens/{name}/credentials": (lambda w, c, own: c.post(f"/tokens/{_victim_token(w, own)}/credentials",
                                                                     json={"name": "password1"}), 200),
    "DELETE tokens/{name}/credentials/{pw}": (lambda w, c, own: c.delete(
        f"/tokens/{_victim_token(w, own, passwords=True)}/credentials/password2"), 204),
    "DELETE tokens/{name}": (lambda w, c, own: c.delete(f"/tokens/{_victim_token(w, own)}"), 204),
    "POST users": (lambda w, c, own: c.post("/users", json={"name": _fresh("new")}), 201),
    "DELETE users/{name}": (lambda w, c, own: c.delete(f"/users/{_victim_user(w, own)}"), 204),
    "POST service-principals": (lambda w, c, own: c.post("/service-principals", json={"name": "new"}), 201),
    "POST service-principals/{id}/reset": (lambda w, c, own: c.post(
        f"/service-principals/{_victim_sp(w, own)}/credentials/reset", json={}), 200),
    "DELETE service-principals/{id}": (lambda w, c, own: c.delete(f"/service-principals/{_victim_sp(w, own)}"),
                                            204),
    "POST workload-identities": (lambda w, c, own: c.post("/workload-identities", json={"name": _fresh("wl")}),
                                      201),
    "DELETE workload-identities/{name}": (lambda w, c, own: c.delete(
        f"/workload-identities/{_victim_workload(w, own)}"), 204),
    "POST workload-identities/{name}/fc": (lambda w, c, own: c.post(
        f"/workload-identities/{_victim_workload(w, own)}/federated-credentials",
        json={"name": _fresh("fc"), "issuer": "https://issuer.example", "subject": uuid.uuid4().hex}), 201),
    "DELETE workload-identities/{name}/fc": (lambda w, c, own: c.delete(
        f"/workload-identities/{_victim_workload(w, own, credential=True)}/federated-credentials/sentinel-fc"), 204),
    "POST role-assignments": (lambda w, c, own: c.post("/role-assignments", json={
        "assignee": "sentinel-user", "role": "AcrPull", "scope": f"repositories/{_fresh('new')}/*"}), 201),
    "DELETE role-assignments/{id}": (lambda w, c, own: c.delete(
        f"/role-assignments/{_victim_assignment(w, own)}"), 204),
}


def _api_cells() -> list[Any]:
    return [pytest.param(row, principal, id=f"api:{slug(row)}:{NAMES[principal]}")
            for row in API for principal in PRINCIPALS]


@pytest.mark.parametrize(("row", "principal"), _api_cells())
def test_api(answers: Answers, row: str, principal: str) -> None:
    _, status = API_OPS[row]
    expected = API[row][principal]
    r = answers.get(("api", row, principal, MODES[principal][-1]))
    if expected == "ok":
        assert r.status_code == status, describe(r)
        return
    code = error_code(r)
    if expected == "no":
        assert r.status_code == 403 and code == "DENIED", describe(r)
    else:
        assert r.status_code == 401 and code == "UNAUTHORIZED", describe(r)
        challenge = parse_challenge(r.headers.get("WWW-Authenticate", ""))
        assert challenge is not None and challenge.scheme == "basic", describe(r)


# ------------------------------------------------------------------------------------ asking the cells

Cell = tuple[str, str, str, str]  # (plane, route, principal, mode)


def ask(w: World, cell: Cell) -> httpx.Response:
    """Prepare the cell (as the owner, when it needs something to act on) and send its request."""
    plane, row, principal, mode = cell
    if plane == "v2":
        op, _, repo = _v2_row(row)
        return op(w, w.client(principal, mode), repo, principal)
    api_op, _ = API_OPS[row]
    return api_op(w, w.client(principal, mode, "api"), API[row][principal] == "ok")


@dataclass
class Answers:
    """Each cell's response (or the exception preparing it raised), asked ahead of the tests that check
    them: the cells are independent — each acts on objects of its own — so they are asked eight at a time,
    which keeps the ~2000 cells (a few hundred of them argon2 verifications of dead passwords) fast."""

    world: World
    responses: dict[Cell, httpx.Response | BaseException]

    def get(self, cell: Cell) -> httpx.Response:
        answer = self.responses.get(cell)
        if answer is None:  # not asked ahead (a test selected some other way): ask now
            answer = ask(self.world, cell)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture(scope="module")
def answers(world: World, request: pytest.FixtureRequest) -> Answers:
    selected: list[Cell] = []
    for item in request.session.items:
        params = getattr(item, "callspec", None)
        if params is None or getattr(item, "module", None) is not request.module:
            continue
        p = params.params
        if getattr(item, "originalname", "") == "test_v2":
            selected.append(("v2", p["row"], p["principal"], p["mode"]))
        elif getattr(item, "originalname", "") == "test_api":
            selected.append(("api", p["row"], p["principal"], MODES[p["principal"]][-1]))

    def attempt(cell: Cell) -> httpx.Response | BaseException:
        try:
            return ask(world, cell)
        except Exception as e:
            return e

    with ThreadPoolExecutor(8) as pool:
        return Answers(world, dict(zip(selected, pool.map(attempt, selected), strict=True)))


# ------------------------------------------------------------------------------------- beyond the table


@pytest.mark.parametrize("mode", ["bearer", "basic"])
@pytest.mark.parametrize("principal", ["pulT", "pusT", "pull", "rdr", "own"])
def test_catalog_lists_only_readable_repositories(world: World, principal: str, mode: str) -> None:
    """AcrPull/AcrPush on team/* see only team/... repositories, page after page; registry-wide roles see all."""
    c = world.client(principal, mode)
    r = c.get("/v2/_catalog", params={"n": "1000"})
    assert r.status_code == 200, describe(r)
    everything = r.json()["repositories"]
    if principal in ("pulT", "pusT"):
        assert everything == sorted([TEAM, BASE]), everything
    else:
        assert {TEAM, OTHER, BASE} <= set(everything), everything
    # one at a time, following Link: the same repositories, nothing unreadable in any page
    seen: list[str] = []
    url: str | None = "/v2/_catalog?n=1"
    while url:
        r = c.get(url)
        assert r.status_code == 200, describe(r)
        page = r.json()["repositories"]
        assert len(page) <= 1
        seen += page
        link = r.headers.get("Link")
        url = link.split(";")[0].strip("<> ") if link else None
    assert seen == everything


def test_tokens_never_list_the_catalog(world: World) -> None:
    """Even a token with every action on every repository (_repositories_admin) gets no catalog access."""
    made = world.api("POST", "/tokens", {"name": "token-admin", "scopeMapName": "_repositories_admin"}, 201)
    creds = ("token-admin", made["credentials"]["passwords"][0]["value"])
    r = token_endpoint(world.server, creds, "registry:catalog:*", f"repository:{TEAM}:pull")
    granted = jwt_claims(bearer_token(r))["access"]
    assert not any(entry["type"] == "registry" for entry in granted), granted
    with httpx.Client(base_url=world.server.url, auth=RegistryBearerAuth(*creds), timeout=30) as c:
        r = c.get("/v2/_catalog")
        check_denied_or_unauthenticated("no", "bearer", r)
        assert c.get(f"/v2/{OTHER}/tags/list").status_code == 200  # it may do everything else
    r = httpx.get(world.server.url + "/v2/_catalog", auth=creds, timeout=30)
    check_denied_or_unauthenticated("no", "basic", r)
    world.api("DELETE", "/tokens/token-admin", status=204)


def test_uploads_are_bound_to_their_repository(world: World) -> None:
    """An upload session is found only under the repository that started it, even by its own starter."""
    starter = world.client("push", "basic")
    data = secrets.token_bytes(32)
    location = world.upload(TEAM, starter)
    r = starter.get(f"/v2/{BASE}/blobs/uploads/{location.rsplit('/', 1)[1]}")  # the starter may push there
    assert (r.status_code, error_code(r)) == (404, "BLOB_UPLOAD_UNKNOWN"), describe(r)
    r = starter.put(location, params={"digest": digest(data)}, content=data, headers={"Content-Type": OCTET})
    assert r.status_code == 201, describe(r)


def test_uploads_are_bound_to_their_principal(world: World) -> None:
    """DESIGN.md: "Uploads are bound to the repository (and principal) that started them." Another caller
    allowed to push to the same repository cannot inspect, continue, finish or cancel a session it did not
    start (the design names no status: 404 BLOB_UPLOAD_UNKNOWN, as for an unknown session, or 403 DENIED)."""
    starter = world.client("push", "basic")
    data = secrets.token_bytes(32)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("GET", {}), ("PATCH", {"content": data, "headers": {"Content-Type": OCTET}}),
        ("PUT", {"params": {"digest": digest(data)}, "content": data}), ("DELETE", {})]
    wrong = []
    for mode in ("basic", "bearer"):
        other = world.client("pusT", mode)  # may push to team/app too
        for method, kwargs in attempts:  # each on a new session of the starter's, which it would complete
            r = other.request(method, world.upload(TEAM, starter), **kwargs)
            if (r.status_code, error_code(r)) not in ((404, "BLOB_UPLOAD_UNKNOWN"), (403, "DENIED")):
                wrong.append(f"{mode}: {describe(r)}")
    assert not wrong, "another principal used the upload session:\n" + "\n".join(wrong)


def test_anonymous_pull_switch(world: World) -> None:
    """Off by default; when on, anonymous callers pull through the token flow but cannot push, delete or list
    the catalog; switched off again, no new anonymous tokens."""
    server = world.server
    assert world.api("GET", "/registry")["anonymousPullEnabled"] is False
    r = token_endpoint(server, None, f"repository:{TEAM}:pull")
    assert r.status_code == 401, describe(r)

    world.api("PATCH", "/registry", {"anonymousPullEnabled": True})
    try:
        def anonymous(method: str, path: str, scope: str | None, **kwargs: Any) -> httpx.Response:
            headers = dict(kwargs.pop("headers", {}))
            if scope is not None:
                r = token_endpoint(server, None, scope)
                assert r.status_code == 200, describe(r)
                headers["Authorization"] = "Bearer " + r.json()["token"]
            return httpx.request(method, server.url + path, headers=headers, timeout=30, **kwargs)

        for repo in (TEAM, OTHER):
            seeded = world.seeded[repo]
            pull = f"repository:{repo}:pull"
            r = anonymous("GET", f"/v2/{repo}/manifests/v1", pull, headers=ACCEPT)
            assert r.status_code == 200 and r.content == seeded.manifest, describe(r)
            r = anonymous("GET", f"/v2/{repo}/blobs/{digest(seeded.layer)}", pull)
            assert r.status_code == 200 and r.content == seeded.layer, describe(r)
            r = anonymous("GET", f"/v2/{repo}/tags/list", pull)
            assert r.status_code == 200 and "v1" in r.json()["tags"], describe(r)
        assert anonymous("GET", "/v2/", "").status_code == 200  # an anonymous token counts as credentials

        push = f"repository:{TEAM}:pull,push"
        check_denied_or_unauthenticated("no", "bearer", anonymous("POST", f"/v2/{TEAM}/blobs/uploads/", push))
        check_denied_or_unauthenticated("no", "bearer", anonymous(
            "PUT", f"/v2/{TEAM}/manifests/anon", push, content=world.seeded[TEAM].manifest_with("anon"),
            headers={"Content-Type": MT_MANIFEST}))
        tag, _ = world.manifest(TEAM)
        check_denied_or_unauthenticated("no", "bearer", anonymous(
            "DELETE", f"/v2/{TEAM}/manifests/{tag}", f"repository:{TEAM}:delete"))
        check_denied_or_unauthenticated("no", "bearer", anonymous("GET", "/v2/_catalog", "registry:catalog:*"))
        r = token_endpoint(server, None, "registry:catalog:*", push)
        assert r.status_code == 200
        access = jwt_claims(r.json()["token"])["access"]
        assert [(e["type"], e["name"]) for e in access] == [("repository", TEAM)], access  # no catalog
        assert "pull" in access[0]["actions"] and "push" not in access[0]["actions"], access
    finally:
        world.api("PATCH", "/registry", {"anonymousPullEnabled": False})
    r = token_endpoint(server, None, f"repository:{TEAM}:pull")
    assert r.status_code == 401, describe(r)
