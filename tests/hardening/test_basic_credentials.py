"""Issue 8, hole 1: `Authorization: Basic` that does not decode to UTF-8 `user:pass` is a 401 with
the challenge on every entry point, never a 500."""

from __future__ import annotations

import base64
import http.client

import pytest

from support import RegistryServer

# Raw header values after "Basic ": not base64 of UTF-8 `user:pass`, in every way found so far.
MALFORMED = [
    b"\xff\xfe\xfd",  # header bytes that are not ASCII at all (Starlette hands them over as latin-1)
    base64.b64encode(b"\xff\xfe:\x80"),  # decodes, but not to UTF-8
    base64.b64encode("ü:ü".encode("latin-1")),
    base64.b64encode(b"no-colon"),
    base64.b64encode(b"nul\x00name:pw"),  # PostgreSQL text refuses NUL: must not reach the store
    b"!!!not-base64",
]
PATHS = ["/v2/", "/oauth2/token?service=x&scope=repository:a/b:pull", "/api/registry"]


def _get(server: RegistryServer, path: str, value: bytes) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("GET", path)
        conn.putheader("Authorization", b"Basic " + value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.getheader("WWW-Authenticate") or "", response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("value", MALFORMED, ids=lambda v: repr(v)[:24])
def test_malformed_basic_is_401_with_challenge(registry: RegistryServer, path: str, value: bytes) -> None:
    status, challenge, body = _get(registry, path, value)
    assert status == 401, body
    assert challenge.split(" ")[0] in ("Bearer", "Basic")
    assert b"UNAUTHORIZED" in body


def test_nul_in_password_grant_is_401(registry: RegistryServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=30)
    body = b"grant_type=password&username=nul%00name&password=x&scope=repository:a/b:pull"
    conn.request("POST", "/oauth2/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    assert response.status == 401, response.read()
    conn.close()
