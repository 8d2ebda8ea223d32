"""Shared test helpers: a real `cargohold serve` process on 127.0.0.1, the Docker token flow
as an httpx auth, tool checks, names and content (unique names, digests, pushing blobs and
manifests), and the /api client with the fixtures that start a folder's own registry.

Tests talk to the registry over real HTTP; nothing here fakes the server. Authentication is on
(as in production): tests authenticate as the server's owner, through RegistryBearerAuth.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest

if TYPE_CHECKING:
    from cargohold.metadata.sql import SqlMetadataStore

IN_CI = bool(os.environ.get("CI"))


def require_tool(name: str) -> str:
    """Path of a real client binary; fail (never skip) under CI when it is missing."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed"
        if IN_CI:
            pytest.fail(msg + " (CI must install it)")
        pytest.skip(msg)
    return path


def skip_unless_ci(reason: str) -> None:
    """Skip for a missing piece of the machine (not of the product); under CI that is a failure."""
    if IN_CI:
        pytest.fail(reason + " (CI must provide it)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_database_url() -> str | None:
    """A new empty PostgreSQL database when CARGOHOLD_TEST_DATABASE_URL is set, else None (SQLite)."""
    admin = os.environ.get("CARGOHOLD_TEST_DATABASE_URL")
    if not admin:
        return None
    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.rsplit("/", 1)[0] + "/" + name


OWNER_USERNAME = "owner"
OWNER_PASSWORD_ENV = "CARGOHOLD_OWNER_PASSWORD"


# ------------------------------------------------------------------------------ Docker token auth

_AUTH_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


@dataclass(frozen=True)
class Challenge:
    """One WWW-Authenticate challenge: its scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes asked for (the Docker token spec allows several, space-separated)."""
        return normalize_scopes(self.params.get("scope", "").split())

    @property
    def error(self) -> str:
        return self.params.get("error", "")


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a WWW-Authenticate value (RFC 7235 auth-params), or None."""
    m = re.match(r"\s*([A-Za-z][A-Za-z0-9_-]*)(.*)$", header, re.S)
    if m is None:
        return None
    params: dict[str, str] = {}
    for p in _AUTH_PARAM.finditer(m.group(2)):
        value = re.sub(r"\\(.)", r"\1", p.group(2)) if p.group(2) is not None else p.group(3)
        params.setdefault(p.group(1).lower(), value)
    return Challenge(m.group(1).lower(), params)


def normalize_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({s for s in scopes if s}))


# The /v2/ routes (distribution-spec "Endpoints"), in the order a registry matches them.
_REPOSITORY_ROUTES = [
    (re.compile(r"^/v2/(?P<name>.+?)/manifests/[^/]+$"), "content"),
    (re.compile(r"^/v2/(?P<name>.+?)/blobs/uploads/?$"), "upload"),
    (re.compile(r"^/v2/(?P<name>.+?)/blobs/uploads/[^/]+$"), "upload"),
    (re.compile(r"^/v2/(?P<name>.+?)/blobs/[^/]+$"), "content"),
    (re.compile(r"^/v2/(?P<name>.+?)/tags/list$"), "list"),
    (re.compile(r"^/v2/(?P<name>.+?)/referrers/[^/]+$"), "list"),
]


def scopes_for(request: httpx.Request) -> tuple[str, ...] | None:
    """The token scopes a Docker client asks for before sending `request` (None: not a /v2/ route).

    pull for reads, pull+push for writes and every upload-session call, delete for DELETE of
    manifests and blobs, registry:catalog:* for the catalog, none for the base endpoint; a
    cross-repository mount also asks to pull the source repository.
    """
    path = request.url.path
    if path in ("/v2", "/v2/"):
        return ()
    if path == "/v2/_catalog":
        return ("registry:catalog:*",)
    for pattern, kind in _REPOSITORY_ROUTES:
        m = pattern.match(path)
        if m is None:
            continue
        if kind == "upload" or request.method not in ("GET", "HEAD", "DELETE"):
            actions = "pull,push"
        elif request.method == "DELETE":
            actions = "delete"
        else:
            actions = "pull"
        scopes = [f"repository:{m.group('name')}:{actions}"]
        source = request.url.params.get("from")
        if kind == "upload" and request.method == "POST" and source:
            scopes.append(f"repository:{source}:pull")
        return normalize_scopes(scopes)
    return None


_Step = Generator[tuple[httpx.Request, bool], httpx.Response, None]


class RegistryBearerAuth(httpx.Auth):
    """The Docker registry token flow, as docker, podman, skopeo and containerd run it.

    - The first /v2/ request to a registry is preceded by a ping (`GET /v2/`) that learns the
      challenge: `Bearer realm=...,service=...` (or `Basic`, or none when the registry is open).
    - Before each /v2/ request the scopes it needs are worked out from its method and path
      (`scopes_for`); a token for them comes from the cache or from `GET <realm>?service=..&scope=..`
      with HTTP Basic credentials, and rides along as `Authorization: Bearer`.
    - A 401 with a Bearer challenge (no token, an expired or unknown one, or `insufficient_scope`)
      fetches a token for exactly the challenged scopes and retries the request once. A token that
      was just issued for those very scopes and still gets 401 means the identity lacks the right:
      that 401 is the answer. When the token endpoint itself refuses, its response is the answer.
    - Tokens are cached per (realm, service, scopes) until shortly before `expires_in` runs out.

    A request that already carries an Authorization header is sent as it is. Thread-safe, so one
    instance can serve many clients; bodies are not buffered (the ping means a stream is rarely
    sent twice; when it must be, httpx raises StreamConsumed).
    """

    def __init__(self, username: str, password: str, *, expiry_margin: float = 15.0) -> None:
        self.username = username
        self.password = password
        self.expiry_margin = expiry_margin
        self._lock = threading.Lock()
        self._challenges: dict[str, Challenge | None] = {}  # origin -> what its ping said (None: open)
        self._tokens: dict[tuple[str, str, tuple[str, ...]], tuple[str, float]] = {}
        self._aliases: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
        self.token_fetches: list[tuple[str, ...]] = []  # the scopes of every token fetched, in order

    @property
    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def forget_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def cached_token(self, realm: str, service: str, scopes: Iterable[str]) -> str | None:
        """The cached, unexpired token for exactly these scopes, if any."""
        with self._lock:
            hit = self._tokens.get((realm, service, normalize_scopes(scopes)))
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def scopes_for(self, request: httpx.Request) -> tuple[str, ...] | None:
        """The scopes to ask for before sending `request` (module-level `scopes_for`; override to vary)."""
        return scopes_for(request)

    # httpx drives these; the flow below says which responses it needs to read.
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        outgoing, read = next(flow)
        while True:
            response = yield outgoing
            if read:
                response.read()
            try:
                outgoing, read = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow(request)
        outgoing, read = next(flow)
        while True:
            response = yield outgoing
            if read:
                await response.aread()
            try:
                outgoing, read = flow.send(response)
            except StopIteration:
                return

    def _flow(self, request: httpx.Request) -> _Step:
        if "Authorization" in request.headers:
            yield request, False
            return
        origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        predicted = self.scopes_for(request)
        with self._lock:
            known = origin in self._challenges
        if predicted is not None and not known:
            ping = yield httpx.Request("GET", origin + "/v2/"), True
            self._learn(origin, ping)
        with self._lock:
            challenge = self._challenges.get(origin)
            scopes = self._aliases.get((origin, predicted), predicted) if predicted is not None else None
        fresh: tuple[str, ...] | None = None  # the scopes of a token fetched for this request
        if challenge is not None and scopes is not None:
            if challenge.scheme == "basic":
                request.headers["Authorization"] = self.basic_header
            elif challenge.scheme == "bearer":
                token = self.cached_token(challenge.realm, challenge.service, scopes)
                if token is None:
                    answer = yield self._token_request(challenge, scopes), True
                    token = self._keep(challenge, scopes, answer)
                    if token is None:
                        return
                    fresh = scopes
                request.headers["Authorization"] = f"Bearer {token}"
        response = yield request, False

        if response.status_code != 401:
            return
        ch = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if ch is None:
            return
        if ch.scheme == "basic":
            if request.headers.get("Authorization") != self.basic_header:
                request.headers["Authorization"] = self.basic_header
                yield request, False
            return
        if ch.scheme != "bearer" or not ch.realm:
            return
        with self._lock:
            self._challenges[origin] = Challenge("bearer", {"realm": ch.realm, "service": ch.service})
        wanted = ch.scopes
        if fresh == wanted:
            return  # a token just issued for exactly these scopes does not do: the identity lacks the right
        answer = yield self._token_request(ch, wanted), True
        token = self._keep(ch, wanted, answer)
        if token is None:
            return
        if predicted is not None:
            with self._lock:
                self._aliases[(origin, predicted)] = wanted
        request.headers["Authorization"] = f"Bearer {token}"
        yield request, False

    def _learn(self, origin: str, ping: httpx.Response) -> None:
        challenge = parse_challenge(ping.headers.get("WWW-Authenticate", "")) if ping.status_code == 401 else None
        if challenge is not None and challenge.scheme == "bearer" and challenge.realm:
            challenge = Challenge("bearer", {"realm": challenge.realm, "service": challenge.service})
        elif challenge is not None and challenge.scheme != "basic":
            challenge = None
        with self._lock:
            self._challenges[origin] = challenge

    def _token_request(self, challenge: Challenge, scopes: tuple[str, ...]) -> httpx.Request:
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        params += [("scope", s) for s in scopes]
        return httpx.Request("GET", challenge.realm, params=params,
                             headers={"Authorization": self.basic_header, "Accept": "application/json"})

    def _keep(self, challenge: Challenge, scopes: tuple[str, ...], answer: httpx.Response) -> str | None:
        if answer.status_code != 200:
            return None
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            return None
        lifetime = float(body.get("expires_in") or 60)  # the token spec's default
        with self._lock:
            self.token_fetches.append(scopes)
            self._tokens[(challenge.realm, challenge.service, scopes)] = (
                token, time.monotonic() + max(lifetime - self.expiry_margin, 1.0))
        return token


# ------------------------------------------------------------------------------ the server


class RegistryServer:
    """A `cargohold serve` subprocess with its own data dir (and own database under PostgreSQL).

    Authentication is on, as in production: the owner identity (`username`, `password`) gets a random
    password through CARGOHOLD_OWNER_PASSWORD, unless `extra_env` sets that variable (an empty value,
    or `generated_password=True`, lets the server generate one into `<data-dir>/owner-password`).
    `auth` is an httpx auth (the Docker token flow with the owner's credentials) shared by the tests
    that talk to this server; `client()` is an httpx.Client using it.
    """

    username = OWNER_USERNAME

    def __init__(self, data_dir: Path, workers: int = 1, extra_env: dict[str, str] | None = None,
                 generated_password: bool = False) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.env = dict(os.environ)
        self.env.pop("CARGOHOLD_DATABASE_URL", None)
        db = _fresh_database_url()
        if db:
            self.env["CARGOHOLD_DATABASE_URL"] = db
        if generated_password:
            self.env.pop(OWNER_PASSWORD_ENV, None)
        else:
            self.env[OWNER_PASSWORD_ENV] = secrets.token_urlsafe(18)
        self.env.update(extra_env or {})
        self._auth: RegistryBearerAuth | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._started = False  # once it has served, its port is its own: a restart keeps it
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    @property
    def password(self) -> str:
        """The owner's password: the one given to the server, else the one it generated on first start."""
        given = self.env.get(OWNER_PASSWORD_ENV)
        if given:
            return given
        return (self.data_dir / "owner-password").read_text().strip()

    @property
    def auth(self) -> RegistryBearerAuth:
        if self._auth is None:
            self._auth = RegistryBearerAuth(self.username, self.password)
        return self._auth

    @property
    def basic_auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.username, self.password)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx.Client on this server that authenticates as the owner through the token flow."""
        kwargs.setdefault("timeout", 60.0)
        return httpx.Client(base_url=self.url, auth=self.auth, **kwargs)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    what = "registry"
    ready_statuses: tuple[int, ...] = (200, 401)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "cargohold", "serve", "--listen", self.host,
                "--data-dir", str(self.data_dir), "--workers", str(self.workers)]

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until /v2/ answers. On a first start, a port another process took since
        free_port() (parallel test workers) is traded for a new one; a restart keeps its port."""
        for attempt in range(3):
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if httpx.get(self.url + "/v2/", timeout=1.0).status_code in self.ready_statuses:
                        self._started = True
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            else:
                raise RuntimeError(f"{self.what} did not start: {self.log_path.read_text()[-2000:]}")
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                said = f.read().decode(errors="replace")
            if not self._started and "already in use" in said and attempt < 2:
                self._use_port(free_port())
                continue
            raise RuntimeError(f"{self.what} exited with {self.proc.returncode}: {said[-2000:]}")

    def _use_port(self, port: int) -> None:
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://{self.host}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill9(self) -> None:
        """SIGKILL the server and every worker it started."""
        if self.proc is None:
            return
        try:
            pgrep = ["pgrep", "-P", str(self.proc.pid)]
            children = subprocess.run(pgrep, capture_output=True, text=True).stdout.split()
            for c in children:
                os.kill(int(c), signal.SIGKILL)
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

class DistributionServer(RegistryServer):
    """CNCF Distribution (Debian's `docker-registry serve`, no authentication) behind RegistryServer's
    interface: the reference registry for the client tests, and a source registry for the import tests."""

    reference = True
    what = "docker-registry"
    ready_statuses = (200,)

    def command(self) -> list[str]:
        binary = require_tool("docker-registry")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir.parent / f"{self.data_dir.name}-distribution.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.data_dir}\n"
            "  delete:\n    enabled: true\n"
            "  cache:\n    blobdescriptor: inmemory\n"
            f"http:\n  addr: {self.host}\n"
            "  secret: cargohold-tests\n"  # upload state tokens must survive a restart
        )
        return [binary, "serve", str(config)]


_Server = TypeVar("_Server", bound=RegistryServer)


# The SSRF guard refuses loopback: servers that import from or federate with test servers on 127.0.0.1 allow it.
OUTBOUND_LOOPBACK = {"CARGOHOLD_OUTBOUND_ALLOW": "127.0.0.1"}


@contextmanager
def started(server: _Server) -> Iterator[_Server]:
    """The server, started; stopped on exit."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def running_registry(
    data_dir: Path, workers: int = 1, extra_env: dict[str, str] | None = None
) -> AbstractContextManager[RegistryServer]:
    """A started `RegistryServer`, stopped on exit."""
    return started(RegistryServer(data_dir, workers=workers, extra_env=extra_env))


def running_distribution(data_dir: Path) -> AbstractContextManager[DistributionServer]:
    """A started `DistributionServer`, stopped on exit."""
    return started(DistributionServer(data_dir))


@contextmanager
def fresh_metadata_store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    """An in-process metadata store on a new, migrated database (PostgreSQL when configured, else SQLite)."""
    from cargohold.metadata.migrate import upgrade
    from cargohold.metadata.sql import SqlMetadataStore, create_engine

    engine = create_engine(_fresh_database_url() or f"sqlite:///{tmp_path / 'meta.db'}")
    upgrade(engine)
    store = SqlMetadataStore(engine)
    try:
        yield store
    finally:
        store.close()


def server_database_url(server: RegistryServer) -> str:
    """The URL of the database a server uses (its own PostgreSQL database, or metadata.db in its data dir)."""
    return server.env.get("CARGOHOLD_DATABASE_URL") or f"sqlite:///{(server.data_dir / 'metadata.db').resolve()}"


# ------------------------------------------------------------------------------ names and content

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCTET = "application/octet-stream"
ACCEPT_MANIFESTS = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])


def unique(prefix: str, sep: str = "-", size: int = 8) -> str:
    """A name no other test (or earlier run against a shared server) uses: unique("tok") -> tok-3f9a1c0d."""
    return f"{prefix}{sep}{uuid.uuid4().hex[:size]}"


def sha256(data: bytes) -> str:
    """The OCI digest of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj: object) -> bytes:
    """Compact, key-sorted JSON: the same document always has the same bytes (and digest)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def upload_blob(http: httpx.Client, repo: str, data: bytes) -> httpx.Response:
    """A monolithic upload: one POST with ?digest= and the bytes (the caller checks the answer)."""
    return http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(data)}, content=data,
                     headers={"Content-Type": OCTET})


def push_blob(http: httpx.Client, repo: str, data: bytes | Iterator[bytes], digest: str | None = None) -> str:
    """POST then PUT ?digest= with the bytes (any registry, any auth); must be 201. Returns the digest."""
    digest = digest or sha256(data if isinstance(data, bytes) else b"")
    r = http.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, (r.status_code, r.text)
    location = r.headers["location"]
    sep = "&" if "?" in location else "?"
    r = http.put(f"{location}{sep}digest={digest}", content=data, headers={"Content-Type": OCTET})
    assert r.status_code == 201, (r.status_code, r.text)
    return digest


def put_manifest(http: httpx.Client, repo: str, reference: str, body: bytes,
                 media_type: str = OCI_MANIFEST) -> httpx.Response:
    """PUT a manifest's bytes under a tag or digest (the caller checks the answer)."""
    return http.put(f"/v2/{repo}/manifests/{reference}", content=body, headers={"Content-Type": media_type})


def push_manifest(http: httpx.Client, repo: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST) -> str:
    """put_manifest that must be 201; returns the manifest's digest."""
    r = put_manifest(http, repo, reference, body, media_type)
    assert r.status_code == 201, (r.status_code, r.text)
    return sha256(body)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The first error of an `{"errors": [...]}` answer."""
    return response.json()["errors"][0]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------ the control plane (/api)

OWNER_PASSWORD = "owner-" + secrets.token_urlsafe(12)  # given to the test registries through the environment
ERROR_STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHORIZED", 403: "DENIED", 404: "NOT_FOUND", 409: "CONFLICT"}


def check_error(response: httpx.Response) -> dict[str, Any]:
    """A 4xx answer is `{"errors":[{code, message, detail}]}` with the status's code; returns the error."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1, body
    error = body["errors"][0]
    assert set(error) == {"code", "message", "detail"}, error
    assert isinstance(error["message"], str) and error["message"], error
    if response.status_code in ERROR_STATUSES:
        assert error["code"] == ERROR_STATUSES[response.status_code], (response.status_code, error)
    return error  # type: ignore[no-any-return]


class Api:
    """/api/... as one identity (HTTP Basic). `expect` asserts the status; 4xx bodies are checked."""

    def __init__(self, url: str, username: str | None, password: str | None) -> None:
        auth = httpx.BasicAuth(username, password) if username is not None and password is not None else None
        self.username = username
        self.password = password
        self.http = httpx.Client(base_url=url + "/api", auth=auth, timeout=60.0)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: Any = None, *, expect: int | None = None,
             params: dict[str, Any] | None = None) -> httpx.Response:
        response = self.http.request(method, path, json=body, params=params)
        assert response.status_code < 500, (method, path, response.status_code, response.text)
        if 400 <= response.status_code < 500:
            check_error(response)
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response

    def _json(self, response: httpx.Response) -> Any:
        return response.json() if response.content else None

    def get(self, path: str, *, expect: int | None = 200, **params: Any) -> Any:
        return self._json(self.call("GET", path, expect=expect, params=params or None))

    def post(self, path: str, body: Any = None, *, expect: int | None = 200) -> Any:
        return self._json(self.call("POST", path, {} if body is None else body, expect=expect))

    def patch(self, path: str, body: Any, *, expect: int | None = 200) -> Any:
        return self._json(self.call("PATCH", path, body, expect=expect))

    def delete(self, path: str, *, expect: int | None = 204) -> Any:
        return self._json(self.call("DELETE", path, expect=expect))

    def error(self, method: str, path: str, body: Any = None, *, status: int) -> dict[str, Any]:
        return check_error(self.call(method, path, body, expect=status))


def owner_registry_fixture(name: str, *, workers: int = 1, scope: str = "module",
                           extra_env: dict[str, str] | None = None) -> Callable[..., Iterator[RegistryServer]]:
    """A fixture: a registry of the folder's own whose owner signs in with OWNER_PASSWORD.

    Used as `server = owner_registry_fixture("management")` in a conftest.
    """
    env = {OWNER_PASSWORD_ENV: OWNER_PASSWORD, **(extra_env or {})}

    @pytest.fixture(scope=scope)
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
        with running_registry(tmp_path_factory.mktemp(name) / "data", workers=workers, extra_env=env) as s:
            yield s

    return server


def owner_api_fixture(scope: str = "module") -> Callable[..., Iterator[Api]]:
    """A fixture: the owner's Api on the `server` fixture (`owner = owner_api_fixture()` in a conftest)."""

    @pytest.fixture(scope=scope)
    def owner(server: RegistryServer) -> Iterator[Api]:
        with Api(server.url, server.username, server.password) as api:
            yield api

    return owner
