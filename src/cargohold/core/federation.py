"""Workload identity federation: an OIDC token from a trusted issuer → a workload principal.

A workload (a CI job, a Kubernetes pod, a VM) presents a JWT its platform minted. The
token's unverified `iss` and `sub` select the federated credentials registered for exactly
that pair; only then is the issuer contacted, so a caller can never make the registry fetch a
URL nobody registered. The issuer's discovery document (`<iss>/.well-known/openid-configuration`)
and its JWKS are fetched with short timeouts and cached per issuer; an unknown key id triggers
one refetch, at most once per `REFETCH_SECONDS` per issuer, however many unknown key ids are
presented. The signature must verify with the key the token's `kid` names, under an
asymmetric algorithm that fits that key (never `none`, never HS*); `iss` and `sub` must match
the credential exactly, `aud` must contain the credential's audience, and `exp`, `nbf`, `iat`
must hold within a small leeway.

Everything here blocks (HTTP, the metadata store): call it through `core.blocking.blocking`.
Why a token was refused goes into the login event; the caller only learns that it was.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.types import JWKDict

from cargohold.core.access import AccessService, Principal
from cargohold.core.errors import DestinationRefused, InvalidArgument, Unauthorized
from cargohold.core.ports.http import Outbound, SyncHttpClient, TransportError
from cargohold.core.ports.records import FederatedCredential, Identity, Registry

log = logging.getLogger("cargohold.federation")

DEFAULT_AUDIENCE = "api://AzureADTokenExchange"  # what Azure (and ACR) expect by default
MAX_FEDERATED_CREDENTIALS = 20  # per identity, as in Azure
INVALID = "invalid federated token"  # all a refused caller is told
METHOD = "federated"  # login-event method

# Accepted signature algorithms and the key type each needs. Symmetric (HS*) and `none` are never accepted.
ALGORITHMS: dict[str, str] = {
    "RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
    "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
    "ES256": "EC", "ES384": "EC", "ES512": "EC",
}
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_MIN_RSA_BITS = 2048

HTTP_TIMEOUT_SECONDS = 5.0
CACHE_SECONDS = 600.0  # discovery document and JWKS are reused this long
REFETCH_SECONDS = 30.0  # an unknown key id refetches the JWKS at most once per this, per issuer
FAILURE_SECONDS = 10.0  # after a failed fetch the issuer is not asked again for this long
STALE_SECONDS = 3600.0  # past their TTL, keys still serve this long while the issuer cannot be reached
LEEWAY_SECONDS = 60  # clock skew allowed on exp, nbf and iat
MAX_TOKEN_BYTES = 16 * 1024
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_KEYS = 100
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class FederationError(Exception):
    """Why a federated token was refused: recorded in the login event, never shown to the caller."""


def validate_issuer(issuer: str, *, allow_insecure: bool) -> str:
    """An issuer (or JWKS) URL: https, or http on loopback when `allow_insecure`; raises InvalidArgument."""
    if not issuer or len(issuer) > 512 or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in issuer):
        raise InvalidArgument("issuer must be a URL of at most 512 characters without spaces")
    try:
        parts = urlsplit(issuer)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise InvalidArgument(f"issuer {issuer!r} is not a valid URL") from None
    if not host or parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise InvalidArgument(f"issuer {issuer!r} must be a URL with a host and no credentials, query or fragment")
    if parts.scheme == "https":
        return issuer
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        if allow_insecure:
            return issuer
        raise InvalidArgument(f"issuer {issuer!r} uses http: allowed only with CARGOHOLD_ALLOW_INSECURE_ISSUERS=true")
    raise InvalidArgument(f"issuer {issuer!r} must be an https URL")


# --- discovery and keys ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuerKeys:
    jwks_uri: str
    keys: dict[str, JWKDict]  # kid → public JWK
    unnamed: tuple[JWKDict, ...]  # keys without a kid (used only when the JWKS holds exactly one key)
    fetched: float  # clock() when fetched


class JwksCache:
    """Discovery documents and JWKS per issuer, fetched on demand and kept `ttl` seconds.

    Thread-safe: one lock per issuer, so concurrent requests for a cold issuer fetch once.
    """

    def __init__(
        self, http: Outbound, *, allow_insecure: bool = False, timeout: float = HTTP_TIMEOUT_SECONDS,
        ttl: float = CACHE_SECONDS, refetch_interval: float = REFETCH_SECONDS, failure_backoff: float = FAILURE_SECONDS,
        stale: float = STALE_SECONDS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allow_insecure = allow_insecure
        self.timeout = timeout
        self.ttl = ttl
        self.refetch_interval = refetch_interval
        self.failure_backoff = failure_backoff
        self.stale = stale
        self.clock = clock
        self._http = http  # outbound HTTP behind the SSRF guard (adapters/http.py)
        self._entries: dict[str, IssuerKeys] = {}
        self._missed: dict[str, float] = {}  # issuer → when an unknown kid last caused a refetch
        self._failed: dict[str, tuple[float, str]] = {}  # issuer → when and why the last fetch failed
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.fetches = 0  # completed fetch attempts (observability and tests)

    def _lock(self, issuer: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(issuer, threading.Lock())

    def key(self, issuer: str, kid: str | None) -> JWKDict:
        """The issuer's public JWK named `kid`; raises FederationError."""
        with self._lock(issuer):
            now = self.clock()
            entry = self._entries.get(issuer)
            fresh = False
            if entry is None or now - entry.fetched >= self.ttl:
                entry, fresh = self._refresh(issuer, entry, now)
            jwk = self._pick(entry, kid)
            if jwk is None and not fresh:
                last = self._missed.get(issuer)
                if last is None or now - last >= self.refetch_interval:
                    self._missed[issuer] = now
                    entry, fresh = self._refresh(issuer, entry, now)
                    jwk = self._pick(entry, kid)
            if jwk is None:
                known = ", ".join(sorted(entry.keys)) or "none"
                raise FederationError(f"key id {kid!r} is not in the issuer's JWKS (known: {known})"
                                      + ("" if fresh else "; refetch rate-limited"))
            return jwk

    @staticmethod
    def _pick(entry: IssuerKeys, kid: str | None) -> JWKDict | None:
        if kid is not None:
            return entry.keys.get(kid)
        everything = [*entry.keys.values(), *entry.unnamed]
        return everything[0] if len(everything) == 1 else None

    def _refresh(self, issuer: str, entry: IssuerKeys | None, now: float) -> tuple[IssuerKeys, bool]:
        """A new fetch, or (when the issuer failed recently or fails now) the stale entry if still usable."""
        usable = entry is not None and now - entry.fetched < self.ttl + self.stale
        failed = self._failed.get(issuer)
        if failed is not None and now - failed[0] < self.failure_backoff:
            if entry is not None and usable:
                return entry, False
            raise FederationError(f"issuer unavailable (last fetch {now - failed[0]:.0f} s ago failed: {failed[1]})")
        try:
            fetched = self._fetch(issuer, now)
        except FederationError as e:
            self._failed[issuer] = (now, str(e))
            if entry is not None and usable:
                log.warning("OIDC issuer %s: %s; using keys fetched %.0f s ago", issuer, e, now - entry.fetched)
                return entry, False
            raise
        self._failed.pop(issuer, None)
        self._entries[issuer] = fetched
        return fetched, True

    def _fetch(self, issuer: str, now: float) -> IssuerKeys:
        self.fetches += 1
        try:
            validate_issuer(issuer, allow_insecure=self.allow_insecure)
        except InvalidArgument as e:
            raise FederationError(f"issuer not allowed: {e.message}") from None
        config_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        client = self._http.sync_client(timeout=self.timeout, follow_redirects=False,
                                        headers={"Accept": "application/json", "User-Agent": "cargohold"})
        try:
            document = self._get_json(client, config_url)
            if document.get("issuer") != issuer:
                raise FederationError(f"discovery document names issuer {str(document.get('issuer'))[:200]!r}")
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise FederationError("discovery document has no jwks_uri")
            try:
                validate_issuer(jwks_uri, allow_insecure=self.allow_insecure)
            except InvalidArgument:
                raise FederationError(f"jwks_uri {jwks_uri[:200]!r} is not an https URL") from None
            jwks = self._get_json(client, jwks_uri)
        finally:
            client.close()
        raw_keys = jwks.get("keys")
        if not isinstance(raw_keys, list):
            raise FederationError("JWKS has no keys list")
        keys: dict[str, JWKDict] = {}
        unnamed: list[JWKDict] = []
        for raw in raw_keys[:MAX_KEYS]:
            if not isinstance(raw, dict) or raw.get("kty") not in ("RSA", "EC") or raw.get("use", "sig") != "sig":
                continue
            kid = raw.get("kid")
            if isinstance(kid, str) and kid:
                keys.setdefault(kid, raw)
            elif kid is None:
                unnamed.append(raw)
        log.info("OIDC issuer %s: %d signing keys from %s", issuer, len(keys) + len(unnamed), jwks_uri)
        return IssuerKeys(jwks_uri, keys, tuple(unnamed), now)

    @staticmethod
    def _get_json(client: SyncHttpClient, url: str) -> dict[str, Any]:
        try:
            with client.stream("GET", url) as response:
                if response.status != 200:
                    raise FederationError(f"GET {url} answered {response.status}")
                body = bytearray()
                for chunk in response.chunks():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise FederationError(f"GET {url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
        except TransportError as e:
            raise FederationError(f"GET {url} failed: {e}") from None
        except DestinationRefused as e:
            raise FederationError(f"GET {url}: {e.message}") from None
        try:
            document = json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError):
            raise FederationError(f"GET {url}: not JSON") from None
        if not isinstance(document, dict):
            raise FederationError(f"GET {url}: not a JSON object")
        return document


def public_key(jwk: JWKDict, alg: str) -> Any:
    """The verification key of a JWK for `alg`; only public parameters are read. Raises FederationError."""
    kty = ALGORITHMS.get(alg)
    if kty is None or jwk.get("kty") != kty:
        raise FederationError(f"key {jwk.get('kid')!r} ({jwk.get('kty')}) cannot verify {alg}")
    if jwk.get("alg") not in (None, alg):
        raise FederationError(f"key {jwk.get('kid')!r} is for {jwk.get('alg')}, the token uses {alg}")
    try:
        if kty == "RSA":
            key = RSAAlgorithm.from_jwk({"kty": "RSA", "n": jwk["n"], "e": jwk["e"]})
            if key.key_size < _MIN_RSA_BITS:
                raise FederationError(f"RSA key {jwk.get('kid')!r} is shorter than {_MIN_RSA_BITS} bits")
            return key
        if jwk.get("crv") != _EC_CURVES[alg]:
            raise FederationError(f"key {jwk.get('kid')!r} is on curve {jwk.get('crv')}, {alg} needs {_EC_CURVES[alg]}")
        return ECAlgorithm.from_jwk({"kty": "EC", "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"]})
    except (KeyError, TypeError, ValueError, jwt.InvalidKeyError) as e:
        raise FederationError(f"unusable key {jwk.get('kid')!r}: {e}") from None


# --- the exchange ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FederatedMatch:
    identity: Identity
    credential: FederatedCredential
    claims: dict[str, Any]


class _Refused(FederationError):
    def __init__(self, reason: str, name: str, kind: str | None) -> None:
        super().__init__(reason)
        self.name = name
        self.kind = kind


class FederationService:
    """Verifies federated OIDC tokens and turns them into workload principals."""

    def __init__(self, access: AccessService, http: Outbound, *, allow_insecure_issuers: bool = False,
                 jwks: JwksCache | None = None, leeway: int = LEEWAY_SECONDS) -> None:
        self.access = access
        self.store = access.store
        self.allow_insecure = allow_insecure_issuers
        self.jwks = jwks or JwksCache(http, allow_insecure=allow_insecure_issuers)
        self.leeway = leeway

    def exchange(self, registry: Registry, token: str, *, source: str, client_id: str | None = None) -> Principal:
        """The workload principal a valid federated token stands for; records a login event either way.

        Raises Unauthorized("invalid federated token") for every refusal.
        """
        try:
            match = self.verify(registry, token, client_id=client_id)
        except _Refused as e:
            self.access.log_login(registry.id, e.name, e.kind, METHOD, source, False, f"federated: {e}")
            raise Unauthorized(INVALID) from None
        self.access.log_login(registry.id, match.identity.name, match.identity.kind, METHOD, source, True,
                              f"credential {match.credential.name}")
        return self.access.principal(match.identity)

    def verify(self, registry: Registry, token: str, *, client_id: str | None = None) -> FederatedMatch:
        """Check a presented token against the registry's federated credentials; raises FederationError."""
        name, kind = "?", None

        def refuse(reason: str) -> _Refused:
            return _Refused(reason, name, kind)

        if len(token) > MAX_TOKEN_BYTES:
            raise refuse(f"token longer than {MAX_TOKEN_BYTES} bytes")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as e:
            raise refuse(f"not a JWT ({e})") from None
        iss, sub = unverified.get("iss"), unverified.get("sub")
        if not isinstance(iss, str) or not iss or not isinstance(sub, str) or not sub:
            raise refuse("token has no iss or sub")
        name = sub[:128]
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise refuse(f"algorithm {str(alg)[:20]!r} not accepted (issuer {iss[:100]})")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise refuse("kid is not a string")

        candidates: list[tuple[Identity, FederatedCredential]] = []
        credentials = self.store.find_federated(registry.id, iss, sub)
        for credential in credentials:
            identity = self.store.get_identity(credential.identity_id)
            if identity is None or identity.kind != "workload" or identity.registry_id != registry.id:
                continue
            if client_id and client_id not in (identity.id, identity.name):
                continue
            candidates.append((identity, credential))
        if not candidates:
            raise refuse(f"no federated credential trusts issuer {iss[:100]} subject {sub[:100]}"
                         + (f" for {client_id[:64]}" if client_id and credentials else ""))
        if len({i.id for i, _ in candidates}) == 1:
            name, kind = candidates[0][0].name, "workload"
        else:
            kind = "workload"

        try:
            validate_issuer(iss, allow_insecure=self.allow_insecure)
        except InvalidArgument as e:
            raise refuse(f"issuer not allowed: {e.message}") from None
        try:
            key = public_key(self.jwks.key(iss, kid), alg)
        except FederationError as e:
            raise refuse(f"{e} (issuer {iss[:100]})") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], issuer=iss, subject=sub, leeway=self.leeway,
                options={"require": ["iss", "sub", "aud", "exp"], "verify_aud": False},
            )
        except jwt.InvalidSignatureError:
            raise refuse(f"signature does not verify with key {kid!r}") from None
        except jwt.ExpiredSignatureError:
            raise refuse("token expired") from None
        except jwt.ImmatureSignatureError as e:
            raise refuse(f"token not valid yet ({e})") from None
        except jwt.InvalidTokenError as e:
            raise refuse(f"invalid token: {e}") from None

        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        matched = [(i, c) for i, c in candidates if c.audience in audiences]
        if not matched:
            expected = sorted({c.audience for _, c in candidates})
            raise refuse(f"audience {[str(a)[:100] for a in audiences[:5]]} not trusted (expected one of {expected})")
        enabled = [(i, c) for i, c in matched if i.enabled]
        if not enabled:
            name = matched[0][0].name
            raise refuse(f"workload identity {name} is disabled")
        if len({i.id for i, _ in enabled}) > 1:
            names = sorted({i.name for i, _ in enabled})
            raise refuse(f"token matches workload identities {', '.join(names)}; pass client_id to choose one")
        identity, credential = enabled[0]
        return FederatedMatch(identity, credential, claims)
