"""Shared test helpers: a real `cargohold serve` process on 127.0.0.1, the Docker token flow
as an httpx auth, and tool checks.

Tests talk to the registry over real HTTP; nothing here fakes the server. Authentication is on
(as in production): tests authenticate as the server's owner, through RegistryBearerAuth.
"""

from __future__ import annotations

import base64
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
from collections.abc import AsyncGenerator, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

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

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cargohold", "serve", "--listen", self.host,
             "--data-dir", str(self.data_dir), "--workers", str(self.workers)],
            stdout=log, stderr=subprocess.STDOUT, env=self.env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log_tail = self.log_path.read_text()[-2000:]
                raise RuntimeError(f"registry exited with {self.proc.returncode}: {log_tail}")
            try:
                if httpx.get(self.url + "/v2/", timeout=1.0).status_code in (200, 401):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"registry did not start: {self.log_path.read_text()[-2000:]}")

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

    def start(self, timeout: float = 30.0) -> None:
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
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/v2/", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start: {self.log_path.read_text()[-2000:]}")


# The SSRF guard refuses loopback: servers that import from or federate with test servers on 127.0.0.1 allow it.
OUTBOUND_LOOPBACK = {"CARGOHOLD_OUTBOUND_ALLOW": "127.0.0.1"}


@contextmanager
def running_registry(
    data_dir: Path, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[RegistryServer]:
    server = RegistryServer(data_dir, workers=workers, extra_env=extra_env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_distribution(data_dir: Path) -> Iterator[DistributionServer]:
    """A started `DistributionServer`, stopped on exit."""
    server = DistributionServer(data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
