"""The other side of an import: a source reference and a small pull client for any OCI/Docker registry.

The client speaks just enough of the distribution protocol to copy an image: the `/v2/` ping, the
Docker token flow (and plain Basic challenges), manifest GETs, streamed blob GETs (redirects
followed) and the referrers API. Every source-side failure becomes a domain error whose message
names the source, so the control plane can answer with JSON before it starts streaming.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from cargohold.core.digests import Digest
from cargohold.core.errors import DigestInvalid, InvalidArgument, NotFound, RegistryError, TagInvalid
from cargohold.core.manifest_format import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
)
from cargohold.core.names import validate_repository_name, validate_tag
from cargohold.core.ports.http import HttpResponse, Outbound, TransportError

MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, *DOCKER_SCHEMA1))
_AUTH_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')
_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?$")


class SourceError(InvalidArgument):
    """The source registry failed or refused (unreachable, unauthorised, not a registry, a lie)."""


@dataclass(frozen=True, slots=True)
class SourceRef:
    """`host[:port]/repo[:tag|@digest]`; `http://` in front selects plain HTTP (tests, local mirrors)."""

    scheme: str
    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def reference(self) -> str:
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        prefix = "http://" if self.scheme == "http" else ""
        suffix = f"@{self.digest}" if self.digest else f":{self.tag}"
        return f"{prefix}{self.host}/{self.repository}{suffix}"


def parse_source(text: str) -> SourceRef:
    """Parse an import source. A name without a registry host (docker.io's `library/alpine`) is refused:
    the host must be explicit, as in `registry.example.com/library/alpine:3.20`."""
    raw = text.strip()
    scheme = "https"
    for prefix in ("http://", "https://"):
        if raw.lower().startswith(prefix):
            scheme = prefix[:-3]
            raw = raw[len(prefix):]
            break
    host, slash, rest = raw.partition("/")
    if not slash or not rest:
        raise InvalidArgument(f"source {text!r} must be host[:port]/repository[:tag|@digest]", {"source": text})
    port = host.rpartition(":")[2] if _HOST.match(host) and not host.endswith("]") else ""
    if not (_HOST.match(host) and ("." in host or ":" in host or host == "localhost")) or (
            port.isdigit() and not 0 < int(port) < 65536):
        raise InvalidArgument(
            f"source {text!r} names no registry host; give it as host[:port]/repository[:tag|@digest] "
            "(for Docker Hub: registry-1.docker.io/library/alpine:3.20)", {"source": text})
    digest: str | None = None
    tag: str | None = None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        try:
            digest = str(Digest.parse(digest))
        except DigestInvalid:
            raise InvalidArgument(f"source digest {digest!r} is not a valid digest", {"source": text}) from None
    else:
        name, colon, maybe_tag = rest.rpartition(":")
        if colon and "/" not in maybe_tag:
            rest, tag = name, maybe_tag
        else:
            tag = "latest"
        try:
            validate_tag(tag)
        except TagInvalid:
            raise InvalidArgument(f"source tag {tag!r} is not a valid tag", {"source": text}) from None
    try:
        validate_repository_name(rest)
    except RegistryError:
        raise InvalidArgument(f"source repository {rest!r} is not a valid repository name",
                              {"source": text}) from None
    return SourceRef(scheme, host, rest, tag, digest)


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.strip().partition(" ")
    values = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3) or "")
              for m in _AUTH_PARAM.finditer(params)}
    return scheme.lower(), values


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    body: bytes
    media_type: str | None
    digest: str


class SourceClient:
    """One import's connection to the source registry (close it; `async with` does)."""

    def __init__(self, ref: SourceRef, http: Outbound, username: str | None = None, password: str | None = None,
                 timeout: float = 30.0) -> None:
        self.ref = ref
        self._username = username
        self._password = password
        self._authorization: str | None = None
        self._http = http.client(base_url=ref.base_url, follow_redirects=True, timeout=timeout,
                                 headers={"User-Agent": "cargohold-import"})

    async def __aenter__(self) -> SourceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.close()

    # --- requests, with authentication ---------------------------------------------------------

    def _unreachable(self, exc: Exception) -> SourceError:
        return SourceError(f"cannot reach the source registry {self.ref.host}: {type(exc).__name__}: {exc}"
                           .rstrip(": "), {"source": str(self.ref)})

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self._authorization:
            headers["Authorization"] = self._authorization
        return headers

    @asynccontextmanager
    async def _send(self, method: str, path: str, headers: dict[str, str] | None = None
                    ) -> AsyncIterator[HttpResponse]:
        """A streamed response, after answering one authentication challenge if the source asks.
        A destination the SSRF guard refuses raises DestinationRefused (403), naming the address."""
        try:
            for attempt in (1, 2):
                async with self._http.stream(method, path, headers=self._headers(headers)) as response:
                    if response.status == 401 and attempt == 1:
                        challenge = response.header("www-authenticate") or ""
                    else:
                        if response.status == 401:
                            what = ("credentials" if self._username
                                    else "anonymous request; give a username and password")
                            raise SourceError(f"the source registry {self.ref.host} refused the {what} for "
                                              f"{self.ref.repository}", {"source": str(self.ref)})
                        if response.status == 403:
                            raise SourceError(f"the source registry {self.ref.host} denied access to "
                                              f"{self.ref.repository}", {"source": str(self.ref)})
                        yield response
                        return
                await self._authenticate(challenge)
        except TransportError as exc:
            raise self._unreachable(exc) from None

    async def _authenticate(self, header: str) -> None:
        scheme, params = _challenge(header)
        if scheme == "basic":
            if self._username is None:
                raise SourceError(f"the source registry {self.ref.host} requires a username and password",
                                  {"source": str(self.ref)})
            pair = f"{self._username}:{self._password or ''}".encode()
            self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")
            return
        if scheme != "bearer" or not params.get("realm"):
            raise SourceError(f"the source registry {self.ref.host} asked for an unsupported authentication "
                              f"({header[:80]!r})", {"source": str(self.ref)})
        query = {"scope": f"repository:{self.ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        auth = (self._username, self._password or "") if self._username is not None else None
        try:
            async with self._http.stream("GET", params["realm"], params=query, basic_auth=auth) as answer:
                status, body = answer.status, await answer.read()
        except TransportError as exc:
            raise self._unreachable(exc) from None
        if status in (401, 403):
            raise SourceError(f"the source registry {self.ref.host} refused the "
                              f"{'credentials' if self._username else 'anonymous token request'}",
                              {"source": str(self.ref)})
        try:
            doc: Any = json.loads(body)
        except ValueError:
            doc = None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if status != 200 or not isinstance(token, str):
            raise SourceError(f"the source registry's token service answered {status} without a token",
                              {"source": str(self.ref)})
        self._authorization = f"Bearer {token}"

    # --- the protocol ---------------------------------------------------------------------------

    async def ping(self) -> None:
        async with self._send("GET", "/v2/") as response:
            if response.status != 200:
                raise SourceError(f"{self.ref.host} does not answer /v2/ as a registry "
                                  f"(status {response.status})", {"source": str(self.ref)})

    async def manifest(self, reference: str, repository: str | None = None) -> FetchedManifest | None:
        """A manifest's bytes, checked against `reference` when it is a digest; None when unknown."""
        repo = repository or self.ref.repository
        async with self._send("GET", f"/v2/{repo}/manifests/{reference}", {"Accept": MANIFEST_ACCEPT}) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise SourceError(f"the source registry answered {response.status} for manifest "
                                  f"{repo}:{reference}", {"source": str(self.ref)})
            body = bytearray()
            async for chunk in response.chunks():
                body += chunk
                if len(body) > MAX_MANIFEST_BYTES:
                    raise SourceError(f"manifest {reference} from the source is larger than "
                                      f"{MAX_MANIFEST_BYTES} bytes", {"source": str(self.ref)})
            media_type = (response.header("content-type") or "").split(";")[0].strip() or None
        data = bytes(body)
        if reference.count(":") == 1 and reference.startswith(("sha256:", "sha512:")):
            expected = Digest.parse(reference)
            actual = Digest.of(data, expected.algorithm)
            if actual != expected:
                raise SourceError(f"the source registry sent manifest bytes for {reference} that hash to "
                                  f"{actual}; refused", {"source": str(self.ref)})
            return FetchedManifest(data, media_type, str(expected))
        return FetchedManifest(data, media_type, str(Digest.of(data)))

    async def referrers(self, digest: str) -> list[dict[str, Any]] | None:
        """The referrers API's descriptors; None when the source does not serve the API (404)."""
        async with self._send("GET", f"/v2/{self.ref.repository}/referrers/{digest}",
                              {"Accept": OCI_INDEX}) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise SourceError(f"the source registry answered {response.status} for the referrers of "
                                  f"{digest}", {"source": str(self.ref)})
            body = await response.read()
        return _descriptors(body, f"referrers of {digest}", self.ref)

    @asynccontextmanager
    async def blob(self, digest: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """A blob's bytes as they arrive from the network (never the whole blob at once)."""
        # Identity encoding, read raw: no decoder and no re-chunking copies on the hot path (the upload
        # path batches what arrives into ~1 MiB writes). A source that compresses anyway is decoded.
        async with self._send("GET", f"/v2/{self.ref.repository}/blobs/{digest}",
                              {"Accept-Encoding": "identity"}) as response:
            if response.status == 404:
                raise NotFound(f"the source registry has no blob {digest} in {self.ref.repository}",
                               {"digest": digest})
            if response.status != 200:
                raise SourceError(f"the source registry answered {response.status} for blob {digest}",
                                  {"source": str(self.ref)})

            encoded = (response.header("content-encoding") or "identity").strip().lower() not in ("", "identity")

            async def chunks() -> AsyncIterator[bytes]:
                try:
                    async for chunk in response.chunks(raw=not encoded):
                        yield chunk
                except TransportError as exc:
                    raise self._unreachable(exc) from None

            yield chunks()


def _descriptors(body: bytes, what: str, ref: SourceRef) -> list[dict[str, Any]]:
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    manifests = doc.get("manifests") if isinstance(doc, dict) else None
    if not isinstance(manifests, list) or not all(isinstance(d, dict) for d in manifests):
        raise SourceError(f"the source registry's {what} is not an index", {"source": str(ref)})
    return manifests
