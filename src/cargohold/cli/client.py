"""The global options, the HTTP client for the control plane, and the CLI's error type.

httpx is imported on first use so `cargohold --help` stays quick.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, urlsplit

from cargohold.cli import config

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "http://127.0.0.1:5000"
TIMEOUT_SECONDS = 30.0
USER_AGENT = "cargohold-cli"


class CliError(Exception):
    """Printed as one line, `error: <message>`, and the process exits with `code`.

    1: the server (or the file system) refused or failed the operation; 2: the command line was wrong.
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def load_httpx() -> Any:
    """httpx, imported without its command-line module (`httpx._main` pulls in click, rich and
    pygments: ~80 ms that every command would pay for nothing)."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import httpx

    return httpx


def tls_verify(url: str) -> bool:
    """Certificate checks only matter for https; skipping them for http saves loading the CA bundle."""
    return url.startswith("https://")


def usage_error(message: str) -> NoReturn:
    raise CliError(message, 2)


@dataclass
class Globals:
    """Options of the root command, set by its callback before any subcommand runs."""

    url: str | None = None
    registry: str | None = None
    output: str = "json"
    query: str | None = None
    username: str | None = None
    password: str | None = None
    _client: ApiClient | None = field(default=None, repr=False)

    def resolved_url(self) -> str:
        """--url / CARGOHOLD_URL, else the URL of the last login, else the default."""
        return normalize_url(self.url or config.current_url() or DEFAULT_URL)


STATE = Globals()


def normalize_url(url: str) -> str:
    """`http(s)://host[:port]` with no trailing slash; a bare host:port gets http://."""
    raw = url.strip()
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        usage_error(f"invalid URL {url!r}: expected http(s)://HOST[:PORT]")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        usage_error(f"invalid URL {url!r}: bad port")
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def login_host(url: str) -> str:
    """The key docker and podman file credentials under: host[:port] as written in image references."""
    return urlsplit(url).netloc


def decode_api_error(response: httpx.Response) -> str:
    """The `message` of the OCI/management error JSON, else the status line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    messages: list[str] = []
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            for err in errors:
                if isinstance(err, dict):
                    msg = str(err.get("message") or err.get("code") or "").strip()
                    detail = err.get("detail")
                    if isinstance(detail, str) and detail and detail not in msg:
                        msg = f"{msg} ({detail})" if msg else detail
                    if msg:
                        messages.append(msg)
        elif isinstance(body.get("detail"), str):  # FastAPI's default error shape
            messages.append(body["detail"])
        elif isinstance(body.get("detail"), list):  # FastAPI request validation
            for item in body["detail"]:
                if isinstance(item, dict):
                    where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                    messages.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
    if not messages:
        text = response.text.strip().splitlines()
        reason = response.reason_phrase or "error"
        messages.append(f"{response.status_code} {reason}" + (f": {text[0][:200]}" if text else ""))
    return "; ".join(m.replace("\n", " ") for m in messages)


def connection_error(url: str, exc: Exception) -> CliError:
    httpx = load_httpx()

    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        if "refused" in reason.lower():
            reason = "connection refused"
        return CliError(f"cannot connect to {url}: {reason} (is the registry running? see --url)")
    if isinstance(exc, httpx.TimeoutException):
        return CliError(f"no answer from {url} within {TIMEOUT_SECONDS:g}s")
    return CliError(f"cannot talk to {url}: {reason}")


@dataclass
class Credentials:
    username: str
    password: str
    source: str  # "options", "login", "docker"

    @property
    def is_refresh_token(self) -> bool:
        return self.username == config.NULL_GUID


def resolve_credentials(url: str) -> Credentials | None:
    """--username/--password (or their env vars), else what `login` stored, else docker's files."""
    if STATE.username or STATE.password:
        if not (STATE.username and STATE.password):
            usage_error("--username and --password go together")
        return Credentials(STATE.username, STATE.password, "options")
    saved = config.saved_login(url)
    if saved:
        if isinstance(saved.get("refreshToken"), str):
            return Credentials(config.NULL_GUID, saved["refreshToken"], "login")
        if isinstance(saved.get("username"), str) and isinstance(saved.get("password"), str):
            return Credentials(saved["username"], saved["password"], "login")
    host = login_host(url)
    for path in (config.containers_auth_path(), config.docker_config_path()):
        found = config.stored_auth(path, host)
        if found:
            return Credentials(found[0], found[1], "docker")
    return None


REGISTRY_HEADER = "X-Cargohold-Registry"  # addresses a registry by name (the server's api/management/deps.py)


class ApiClient:
    """Calls /api/... with Basic credentials and turns every failure into a CliError.

    With `registry` set, every request names that registry in the X-Cargohold-Registry header, so the
    server answers for it (and refuses an unknown name) whatever host the URL names."""

    def __init__(self, url: str, credentials: Credentials | None, registry: str | None = None) -> None:
        httpx = load_httpx()

        self.url = url
        self.registry = registry
        self.credentials = credentials
        auth = httpx.BasicAuth(credentials.username, credentials.password) if credentials else None
        self.http = httpx.Client(base_url=url, auth=auth, timeout=TIMEOUT_SECONDS, verify=tls_verify(url),
                                 headers={"User-Agent": USER_AGENT, "Accept": "application/json"})

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                ok: tuple[int, ...] = (200, 201, 202, 204)) -> Any:
        httpx = load_httpx()

        clean = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(MAX_THROTTLE_RETRIES + 1):
            try:
                headers = {REGISTRY_HEADER: self.registry} if self.registry else None
                response = self.http.request(method, path, json=json, params=clean or None, headers=headers)
            except httpx.HTTPError as e:
                raise connection_error(self.url, e) from None
            wait = retry_after(response)
            if wait is None or attempt == MAX_THROTTLE_RETRIES:
                break
            time.sleep(wait)  # throttled (429) for a moment: wait as told, as az does
        if response.status_code not in ok:
            raise CliError(self._explain(response))
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{method} {path}: the server sent something that is not JSON "
                           f"({response.headers.get('content-type', 'no content type')})") from None

    def _explain(self, response: httpx.Response) -> str:
        message = decode_api_error(response)
        if response.status_code == 401:
            if self.credentials is None:
                return f"{message} (not logged in: run `cargohold login` or pass --username/--password)"
            if self.credentials.source == "login":
                return f"{message} (the stored login was refused or has expired: run `cargohold login` again)"
        if response.status_code == 404 and message.lower() in ("not found", "404 not found", "no such endpoint"):
            return f"{message} (does this server have the management API?)"
        return message

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def addressing(self, registry: str | None) -> ApiClient:
        """This client (same connection and credentials) addressing another registry (None: the URL's)."""
        if registry == self.registry:
            return self
        other = copy.copy(self)
        other.registry = registry
        return other

    def close(self) -> None:
        self.http.close()


MAX_THROTTLE_RETRIES = 2
MAX_THROTTLE_WAIT = 10.0


def retry_after(response: Any) -> float | None:
    """Seconds to wait before retrying a throttled request; None when it should not be retried."""
    if response.status_code != 429:
        return None
    try:
        wait = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        return None
    return max(wait, 0.0) if wait <= MAX_THROTTLE_WAIT else None


def api() -> ApiClient:
    """The client for this invocation, addressing --registry when given (the server refuses a name it
    does not serve with 404, so no separate check is needed)."""
    if STATE._client is None:
        url = STATE.resolved_url()
        STATE._client = ApiClient(url, resolve_credentials(url))
    return STATE._client.addressing(STATE.registry)


def registry_client(name: str | None) -> ApiClient:
    """The API client addressing registry `name` (like --registry) when given."""
    if name and not STATE.registry:
        STATE.registry = name
    return api()


def operator_api() -> ApiClient:
    """The client for operator calls (/api/registries): no registry header; the server signs the
    operator in to the default registry whatever the host."""
    api()
    assert STATE._client is not None
    return STATE._client.addressing(None)


def check_registry(client: ApiClient, name: str) -> None:
    """Is registry `name` served at the client's URL (and do the credentials work for it)?"""
    info = client.addressing(name).get("/api/registry")
    served = str(info.get("name", "")) if isinstance(info, dict) else ""
    if served.lower() != name.lower():
        raise CliError(f"registry {name!r} is not served at {client.url} (it serves {served!r})")


def segment(value: str) -> str:
    """One path segment, escaped (names come from the command line)."""
    return quote(value, safe="")


def confirm(question: str, yes: bool) -> None:
    """Ask before a destructive change; without a terminal, insist on --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        usage_error(f"{question.rstrip('?')}: confirmation needed; pass --yes to proceed without a prompt")
    import typer

    if not typer.confirm(question, default=False, err=True):
        raise CliError("cancelled", 1)
