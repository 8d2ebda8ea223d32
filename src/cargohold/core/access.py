"""Authentication and authorization: who is calling, and what they may do.

Credentials are verified here (argon2id, constant time), access tokens are
issued with exactly the actions granted, and every data-plane request is
checked against a `Caller` — built from a verified bearer token, from Basic
credentials, or for anonymous callers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt

from cargohold.core.errors import Unauthorized
from cargohold.core.login_limits import LoginLimiter, LoginsRefused
from cargohold.core.permissions import METADATA_READ, PULL, TOKEN_SCOPE_ACTIONS, Grant, matches
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import Identity, LoginEvent, Registry
from cargohold.core.secrets import verify_secret
from cargohold.core.signing_keys import KeyRing

log = logging.getLogger("cargohold.access")

ACCESS_TOKEN_SECONDS = 300
REFRESH_TOKEN_SECONDS = 3 * 3600
# As in ACR: this username with a refresh token as the password (e.g. `docker login` after an exchange).
REFRESH_TOKEN_USERNAME = "00000000-0000-0000-0000-000000000000"
_CACHE_SECONDS = 5.0  # how long a verified password or a loaded grant is reused


class Caller(Protocol):
    """What the data plane asks of whoever is calling."""

    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str: ...

    def allows(self, repository: str, action: str) -> bool: ...

    def may_read(self, repository: str) -> bool: ...

    @property
    def may_list_catalog(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Principal:
    registry_id: int
    kind: str  # user | service_principal | workload | admin | token | anonymous
    name: str
    identity_id: str | None
    grant: Grant

    def allows(self, repository: str, action: str) -> bool:
        return self.grant.allows(repository, action)

    def may_read(self, repository: str) -> bool:
        return self.grant.allows(repository, PULL)

    @property
    def may_list_catalog(self) -> bool:
        return self.kind not in ("token", "anonymous") and any(a in (PULL, METADATA_READ) for _, a in self.grant.rules)

    def readable_patterns(self) -> list[str]:
        return sorted({p for p, a in self.grant.rules if a == PULL})


@dataclass(frozen=True, slots=True)
class TokenCaller:
    """A caller holding a verified access token: exactly what the token says."""

    kind: str
    name: str
    access: dict[str, frozenset[str]]
    catalog: bool
    readable: tuple[str, ...]
    expires: float
    key_id: str = ""

    def allows(self, repository: str, action: str) -> bool:
        return action in self.access.get(repository, ())

    def may_read(self, repository: str) -> bool:
        return self.allows(repository, PULL) or any(matches(p, repository) for p in self.readable)

    @property
    def may_list_catalog(self) -> bool:
        return self.catalog


@dataclass(frozen=True, slots=True)
class ScopeRequest:
    type: str  # repository | registry
    name: str
    actions: tuple[str, ...]


def parse_scope(scope: str) -> ScopeRequest | None:
    """`repository:<name>:<actions>` or `registry:catalog:*`; None for anything else (ignored)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if kind not in ("repository", "registry") or not name:
        return None
    return ScopeRequest(kind, name, tuple(a for a in actions.split(",") if a))


class AccessService:
    def __init__(self, store: AccessStore, keys: KeyRing, login_events: bool = True,
                 login_limiter: LoginLimiter | None = None) -> None:
        self.store = store
        self.keys = keys
        self.login_limiter = login_limiter
        self._record = login_events
        self.dropped_login_records = 0  # login records that could not be written (see _log)
        self._salt = os.urandom(16)
        self._passwords: dict[tuple[int, str, bytes], tuple[float, str]] = {}
        self._principals: dict[str, tuple[float, Principal]] = {}
        # Verified access tokens by (registry id, token): a token is only ever good at the registry it names.
        self._tokens: dict[tuple[int, str], TokenCaller] = {}
        self._anonymous: dict[int, tuple[float, Principal]] = {}

    # --- principals -------------------------------------------------------------------------

    def anonymous(self, registry_id: int) -> Principal:
        cached = self._anonymous.get(registry_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        enabled = self.store.get_settings(registry_id).anonymous_pull_enabled
        grant = Grant(frozenset({("*", PULL), ("*", METADATA_READ)})) if enabled else Grant(frozenset())
        p = Principal(registry_id, "anonymous", "", None, grant)
        self._anonymous[registry_id] = (time.monotonic() + _CACHE_SECONDS, p)
        return p

    def anonymous_pull_enabled(self, registry_id: int) -> bool:
        return bool(self.anonymous(registry_id).grant.rules)

    def principal(self, identity: Identity) -> Principal:
        cached = self._principals.get(identity.id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        if identity.kind == "token":
            scope_map = self.store.get_scope_map(identity.scope_map_id) if identity.scope_map_id else None
            grant = Grant.from_scope_map(scope_map.rules if scope_map else ())
        elif identity.kind == "admin":
            grant = Grant.from_roles([("Contributor", "")])
        else:
            assignments = self.store.role_assignments(identity.registry_id, identity.id)
            grant = Grant.from_roles((a.role, a.scope) for a in assignments)
        p = Principal(identity.registry_id, identity.kind, identity.name, identity.id, grant)
        self._principals[identity.id] = (time.monotonic() + _CACHE_SECONDS, p)
        return p

    def forget(self, identity_id: str | None = None) -> None:
        """Drop what this worker cached about an identity (its grant and verified passwords), or
        everything including the registry switches when None, after a control-plane change.
        Other workers notice within `_CACHE_SECONDS`; access tokens already issued run to expiry."""
        if identity_id is None:
            self._passwords.clear()
            self._principals.clear()
            self._anonymous.clear()
            return
        self._principals.pop(identity_id, None)
        for key, (_, cached_id) in list(self._passwords.items()):
            if cached_id == identity_id:
                self._passwords.pop(key, None)

    def _usable(self, identity: Identity) -> bool:
        if not identity.enabled:
            return False
        if identity.kind == "admin":
            return self.store.get_settings(identity.registry_id).admin_enabled
        return True

    def authenticate(self, registry: Registry, username: str, password: str, *, method: str, source: str) -> Principal:
        """Verify a username and password (or client id and secret); raises Unauthorized.

        The username `REFRESH_TOKEN_USERNAME` takes a refresh token as its password (logged as refresh_token).
        """
        if "\x00" in username or "\x00" in password:  # no name holds NUL (and PostgreSQL text refuses it)
            raise Unauthorized("malformed credentials")
        key = (registry.id, username, hmac.digest(self._salt, password.encode(), hashlib.sha256))
        hit = self._passwords.get(key)
        if hit and hit[0] > time.monotonic():
            identity = self.store.get_identity(hit[1])
            if identity is not None and self._usable(identity):
                return self.principal(identity)
        if self.login_limiter is not None:  # a right password cached above never waits here
            try:
                self.login_limiter.check(registry.id, username, source)
            except LoginsRefused as e:
                self._log(registry.id, username, None, method, source, False, f"refused: {e.message}")
                raise
        if username == REFRESH_TOKEN_USERNAME:
            principal = self.principal_from_refresh_token(registry, password, source=source)
            assert principal.identity_id is not None
            if len(self._passwords) > 10_000:
                self._passwords.clear()
            self._passwords[key] = (time.monotonic() + _CACHE_SECONDS, principal.identity_id)
            return principal
        now = datetime.now(UTC)
        matched: Identity | None = None
        cache_seconds = _CACHE_SECONDS
        reason = "unknown identity or wrong password"
        for identity in self.store.find_login(registry.id, username):
            for credential in self.store.credentials_of(identity.id):
                if not verify_secret(credential.secret_hash, password):
                    continue
                if credential.expires_at is not None and credential.expires_at <= now:
                    reason = f"credential {credential.name} expired"
                    continue
                if not self._usable(identity):
                    reason = f"{identity.kind} is disabled"
                    continue
                if credential.expires_at is not None:  # the cache must not outlive the credential
                    cache_seconds = min(cache_seconds, (credential.expires_at - now).total_seconds())
                matched = identity
                break
            if matched:
                break
        else:
            verify_secret(None, password)  # same cost whether or not the name exists
        self._log(registry.id, username, matched.kind if matched else None, method, source, matched is not None,
                  "" if matched else reason)
        if matched is None:
            raise Unauthorized("invalid username or password")
        self._passwords[key] = (time.monotonic() + cache_seconds, matched.id)
        if len(self._passwords) > 10_000:
            self._passwords.clear()
        return self.principal(matched)

    def log_login(self, registry_id: int, name: str, kind: str | None, method: str, source: str, ok: bool,
                  reason: str = "") -> None:
        """Record an authentication attempt made outside `authenticate` (e.g. a federated token)."""
        self._log(registry_id, name, kind, method, source, ok, reason)

    def _log(self, registry_id: int, name: str, kind: str | None, method: str, source: str, ok: bool,
             reason: str) -> None:
        """Best effort: a login record that cannot be written (e.g. a full disk) is dropped, counted and
        logged, and never fails the request, so pulls keep working when nothing can be written."""
        if self._record:
            try:
                self.store.record_login(LoginEvent(registry_id, datetime.now(UTC), name, kind, method, source,
                                                   "success" if ok else "failure", reason))
            except Exception as exc:  # any store failure: the record is what is lost
                self.dropped_login_records += 1
                log.warning("login record dropped (%d so far): %s", self.dropped_login_records,
                            str(exc).splitlines()[0][:200])

    # --- tokens -----------------------------------------------------------------------------

    def issue_access_token(self, registry: Registry, principal: Principal, scopes: list[str]) -> dict[str, Any]:
        """An access token carrying exactly the granted subset of the requested scopes."""
        access: list[dict[str, Any]] = []
        for raw in scopes:
            request = parse_scope(raw)
            if request is None:
                continue
            if request.type == "registry":
                if request.name == "catalog" and principal.may_list_catalog:
                    access.append({"type": "registry", "name": "catalog", "actions": ["*"]})
                continue
            granted, withheld = principal.grant.granted_for_request(request.name, request.actions)
            entry: dict[str, Any] = {"type": "repository", "name": request.name, "actions": granted}
            if withheld:
                entry["withheld"] = withheld  # what the granted actions would imply but may not do
            access.append(entry)
        now = int(time.time())
        claims = {
            "iss": f"cargohold/{registry.name}", "sub": principal.identity_id or "anonymous",
            "aud": registry.login_server, "iat": now, "nbf": now - 5, "exp": now + ACCESS_TOKEN_SECONDS,
            "jti": uuid.uuid4().hex, "typ": "access", "reg": registry.id, "kind": principal.kind,
            "name": principal.name, "access": access, "rp": principal.readable_patterns(),
        }
        token = self.keys.sign(claims)
        return {"token": token, "access_token": token, "expires_in": ACCESS_TOKEN_SECONDS,
                "issued_at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")}

    def issue_refresh_token(self, registry: Registry, principal: Principal) -> str:
        if principal.identity_id is None:
            raise Unauthorized("anonymous callers get no refresh token")
        now = int(time.time())
        return self.keys.sign({
            "iss": f"cargohold/{registry.name}", "sub": principal.identity_id, "aud": registry.login_server,
            "iat": now, "nbf": now - 5, "exp": now + REFRESH_TOKEN_SECONDS, "jti": uuid.uuid4().hex,
            "typ": "refresh", "reg": registry.id,
        })

    def principal_from_refresh_token(self, registry: Registry, token: str, *, source: str) -> Principal:
        try:
            claims = self.keys.verify(token, registry.login_server)
        except jwt.InvalidTokenError as e:
            self._log(registry.id, "?", None, "refresh_token", source, False, f"invalid refresh token: {e}")
            raise Unauthorized("invalid refresh token") from None
        identity = self.store.get_identity(str(claims["sub"]))
        ok = (claims.get("typ") == "refresh" and claims.get("reg") == registry.id and identity is not None
              and self._usable(identity))
        self._log(registry.id, identity.name if identity else str(claims["sub"]), identity.kind if identity else None,
                  "refresh_token", source, ok, "" if ok else "identity disabled, deleted or token not a refresh token")
        if not ok or identity is None:
            raise Unauthorized("refresh token no longer valid")
        return self.principal(identity)

    def caller_from_access_token(self, registry: Registry, token: str) -> TokenCaller:
        cached = self._tokens.get((registry.id, token))
        if cached is not None and cached.expires > time.time() and self.keys.has(cached.key_id):
            return cached
        try:
            claims = self.keys.verify(token, registry.login_server)
        except jwt.InvalidTokenError:
            raise Unauthorized("invalid or expired access token") from None
        if claims.get("typ") != "access" or claims.get("reg") != registry.id:
            raise Unauthorized("not an access token for this registry")
        access: dict[str, frozenset[str]] = {}
        catalog = False
        for entry in claims.get("access", []):
            if entry.get("type") == "repository":
                actions: set[str] = set()
                for name in entry.get("actions", []):
                    actions |= TOKEN_SCOPE_ACTIONS.get(name, frozenset())
                actions -= set(entry.get("withheld", ()))
                access[entry["name"]] = access.get(entry["name"], frozenset()) | frozenset(actions)
            elif entry.get("type") == "registry" and entry.get("name") == "catalog":
                catalog = True
        caller = TokenCaller(str(claims.get("kind")), str(claims.get("name")), access, catalog,
                             tuple(claims.get("rp", [])), float(claims["exp"]),
                             str(jwt.get_unverified_header(token).get("kid", "")))
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[(registry.id, token)] = caller
        return caller


def source_label(client: tuple[str, int] | None) -> str:
    return client[0] if client else "unknown"


CallerFactory = Callable[[], Caller]
