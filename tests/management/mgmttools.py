"""Helpers for the management API tests: an /api client that checks the error format, and the Docker
token flow (GET /oauth2/token with Basic credentials → Bearer on /v2/) for pushing and pulling."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

# The /api client and its error check live in support; imported here under their old home too.
from support import ERROR_STATUSES, OCI_CONFIG, OCI_MANIFEST, OCTET, OWNER_PASSWORD, Api, check_error, sha256

__all__ = ["ERROR_STATUSES", "OWNER_PASSWORD", "Api", "Registry", "can_sign_in", "check_error", "eventually",
           "granted", "password_value", "token_response"]


def password_value(token: dict[str, Any], name: str) -> str:
    return next(p["value"] for p in token["credentials"]["passwords"] if p["name"] == name)


def eventually(check: Callable[[], bool], timeout: float = 7.0) -> bool:
    """True once `check()` is (changes reach other workers within AccessService's 5 s cache)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)


# --------------------------------------------------------------------------- the Docker token flow


def token_response(url: str, username: str | None, password: str | None, *scopes: str) -> httpx.Response:
    """GET /oauth2/token?service=…&scope=… as docker does (Basic credentials, or none when anonymous)."""
    auth = httpx.BasicAuth(username, password) if username is not None and password is not None else None
    service = url.split("://", 1)[1]
    return httpx.get(url + "/oauth2/token", params=[("service", service), *(("scope", s) for s in scopes)],
                     auth=auth, timeout=30.0)


def can_sign_in(url: str, username: str, password: str) -> bool:
    """Does the token endpoint accept these credentials?"""
    response = token_response(url, username, password, "repository:probe:pull")
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def granted(url: str, username: str | None, password: str | None, repository: str, actions: str) -> list[str]:
    """The data-plane actions an access token for `repository:<repository>:<actions>` carries."""
    response = token_response(url, username, password, f"repository:{repository}:{actions}")
    assert response.status_code == 200, response.text
    payload = response.json()["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return sorted(a for entry in claims["access"] if entry["name"] == repository for a in entry["actions"])


class Registry:
    """/v2/ through the Docker token flow as one identity (None, None: anonymous)."""

    def __init__(self, url: str, username: str | None, password: str | None) -> None:
        self.url = url
        self.username = username
        self.password = password
        self.http = httpx.Client(base_url=url, timeout=60.0)

    def close(self) -> None:
        self.http.close()

    def token(self, repository: str, actions: str) -> str | None:
        response = token_response(self.url, self.username, self.password, f"repository:{repository}:{actions}")
        if response.status_code != 200:
            return None
        return str(response.json()["token"])

    def _send(self, method: str, path: str, repository: str, actions: str, **kwargs: Any) -> httpx.Response:
        """Like docker: try, and on a Bearer challenge fetch a token for the challenged scope and retry."""
        headers = dict(kwargs.pop("headers", {}))
        token = self.token(repository, actions)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 500, response.text
        return response

    def push(self, repository: str, tag: str, payload: bytes = b"layer") -> bool:
        """Push a one-layer image; True when every step succeeded."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                                                                             "diff_ids": []}}).encode()
        for blob in (payload, config):
            r = self._send("POST", f"/v2/{repository}/blobs/uploads/", repository, "pull,push",
                           params={"digest": sha256(blob)}, content=blob, headers={"Content-Type": OCTET})
            if r.status_code != 201:
                return False
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": sha256(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": len(payload),
                        "digest": sha256(payload)}],
        }
        r = self._send("PUT", f"/v2/{repository}/manifests/{tag}", repository, "pull,push",
                       content=json.dumps(manifest).encode(),
                       headers={"Content-Type": OCI_MANIFEST})
        return r.status_code == 201

    def pull(self, repository: str, tag: str) -> bool:
        """Fetch the manifest and every blob it names; True when all came back 200."""
        r = self._send("GET", f"/v2/{repository}/manifests/{tag}", repository, "pull",
                       headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        if r.status_code != 200:
            return False
        manifest = r.json()
        for descriptor in [manifest["config"], *manifest["layers"]]:
            b = self._send("GET", f"/v2/{repository}/blobs/{descriptor['digest']}", repository, "pull")
            if b.status_code != 200:
                return False
        return True

    def delete_tag(self, repository: str, tag: str) -> int:
        return self._send("DELETE", f"/v2/{repository}/manifests/{tag}", repository, "delete").status_code
