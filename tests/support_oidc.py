"""A real OIDC issuer for tests: discovery document and JWKS over HTTP on 127.0.0.1, own keys.

    with OidcIssuer() as issuer:
        token = issuer.mint("repo:org/app:ref:refs/heads/main", aud="api://AzureADTokenExchange")

Keys are generated at start (RSA 2048 `rsa-1`, EC P-256 `ec-1`); `rotate()` publishes a new RSA
key (and by default withdraws the old ones); `unpublished_key()` makes a key the JWKS never lists.
Every request is recorded in `requests` so tests can count fetches.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

DEFAULT_AUDIENCE = "api://AzureADTokenExchange"


@dataclass
class SigningKey:
    kid: str
    alg: str  # RS256 | ES256
    private: Any

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        base = RSAAlgorithm.to_jwk(public, as_dict=True) if self.alg.startswith("RS") else \
            ECAlgorithm.to_jwk(public, as_dict=True)
        return {**base, "kid": self.kid, "use": "sig", "alg": self.alg}


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


class OidcIssuer:
    """A threaded http.server serving `<issuer>/.well-known/openid-configuration` and `<issuer>/keys`."""

    def __init__(self, path: str = "") -> None:
        self.keys: list[SigningKey] = [rsa_key("rsa-1"), ec_key("ec-1")]
        self.requests: list[tuple[float, str]] = []
        self.fail = False  # answer 503 to everything (an unreachable issuer)
        self._lock = threading.Lock()
        self._rotations = 1
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with issuer._lock:
                    issuer.requests.append((time.monotonic(), self.path))
                if issuer.fail:
                    self._send(503, {"error": "unavailable"})
                elif self.path == issuer.path + "/.well-known/openid-configuration":
                    self._send(200, issuer.discovery())
                elif self.path == issuer.path + "/keys":
                    self._send(200, issuer.jwks())
                else:
                    self._send(404, {"error": "not found"})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.path = path.rstrip("/")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}{self.path}"  # the issuer (`iss`)
        self._thread = threading.Thread(target=self.server.serve_forever, name="oidc-issuer", daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> OidcIssuer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def __enter__(self) -> OidcIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- documents -------------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url, "jwks_uri": self.url + "/keys",
            "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys}),
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
        }

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [k.jwk() for k in self.keys]}

    def fetches(self, what: str = "keys") -> int:
        """How many times the JWKS (`keys`) or the discovery document (`openid-configuration`) was fetched."""
        with self._lock:
            return sum(1 for _, p in self.requests if p.endswith(what))

    # --- keys ------------------------------------------------------------------------------------

    def key(self, kid: str) -> SigningKey:
        return next(k for k in self.keys if k.kid == kid)

    def rotate(self, keep_old: bool = False) -> SigningKey:
        """Publish a new RSA key (kid `rsa-<n>`); without `keep_old`, the previous keys are withdrawn."""
        self._rotations += 1
        new = rsa_key(f"rsa-{self._rotations}")
        with self._lock:
            self.keys = [*self.keys, new] if keep_old else [new]
        return new

    @staticmethod
    def unpublished_key(kid: str = "never-published") -> SigningKey:
        return rsa_key(kid)

    # --- tokens ----------------------------------------------------------------------------------

    def claims(self, sub: str, aud: str | list[str] = DEFAULT_AUDIENCE, exp: float | None = None,
               **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.url, "sub": sub, "aud": aud, "iat": now, "nbf": now,
                "exp": int(exp) if exp is not None else now + 600, "jti": uuid.uuid4().hex, **extra}

    def mint(self, sub: str, aud: str | list[str] = DEFAULT_AUDIENCE, exp: float | None = None, *,
             kid: str = "rsa-1", key: SigningKey | None = None, **extra: Any) -> str:
        """A token signed by the published key `kid` (or by `key`); `exp` is an absolute Unix time."""
        signer = key or self.key(kid)
        return jwt.encode(self.claims(sub, aud, exp, **extra), signer.private, algorithm=signer.alg,
                          headers={"kid": signer.kid})
