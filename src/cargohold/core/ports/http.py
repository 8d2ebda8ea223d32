"""Outbound HTTP, as core needs it: the import source client and OIDC discovery/JWKS fetches.

Core says what to fetch; the adapter (cargohold/adapters/http.py, httpx) decides how, and refuses
destinations the operator has not allowed (the SSRF guard) by raising core's DestinationRefused.
Every other transport failure (DNS, connect, TLS, timeout, broken stream, invalid URL) is
`TransportError`, so core never sees the HTTP library's exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Protocol


class TransportError(Exception):
    """The request did not complete: no answer, or the answer broke off."""


class HttpResponse(Protocol):
    @property
    def status(self) -> int: ...

    def header(self, name: str) -> str | None: ...

    def chunks(self, *, raw: bool = False) -> AsyncIterator[bytes]:
        """The body as it arrives; `raw` skips content decoding (no copy on the blob path)."""
        ...

    async def read(self) -> bytes: ...


class HttpClient(Protocol):
    """An async client with a connection pool; close it."""

    def stream(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
               params: Mapping[str, str] | None = None, basic_auth: tuple[str, str] | None = None
               ) -> AbstractAsyncContextManager[HttpResponse]: ...

    async def close(self) -> None: ...


class SyncHttpResponse(Protocol):
    @property
    def status(self) -> int: ...

    def chunks(self) -> Iterator[bytes]: ...


class SyncHttpClient(Protocol):
    """A blocking client (for code that already runs on a worker thread); close it."""

    def stream(self, method: str, url: str, *, headers: Mapping[str, str] | None = None
               ) -> AbstractContextManager[SyncHttpResponse]: ...

    def close(self) -> None: ...


class Outbound(Protocol):
    """Makes clients. `base_url` resolves relative URLs; redirects are followed only when asked."""

    def client(self, *, base_url: str = "", timeout: float, follow_redirects: bool = False,
               headers: Mapping[str, str] | None = None) -> HttpClient: ...

    def sync_client(self, *, timeout: float, follow_redirects: bool = False,
                    headers: Mapping[str, str] | None = None) -> SyncHttpClient: ...
