"""Response helpers shared by the /v2/ handlers."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cargohold.core.blocking import blocking
from cargohold.storage.base import BlobReader

from .errors import API_VERSION_HEADER

CHUNK = 1 << 20


def empty(status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers={**API_VERSION_HEADER, "Content-Length": "0", **(headers or {})})


class BlobBodyResponse(Response):
    """Streams `length` bytes from a blob reader in 1 MiB chunks read off the event loop."""

    def __init__(self, reader: BlobReader, length: int, status: int, headers: Mapping[str, str]) -> None:
        super().__init__(status_code=status, headers={**headers, "Content-Length": str(length)})
        self.reader = reader
        self.length = length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            remaining = self.length
            while remaining > 0:
                chunk = await blocking(self.reader.read, min(CHUNK, remaining))
                if not chunk:
                    break  # the file is shorter than recorded: the connection ends short
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
            if remaining == 0 and self.length == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await blocking(self.reader.close)


def upload_location(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def blob_location(name: str, digest: str) -> str:
    return f"/v2/{name}/blobs/{digest}"


def range_header(size: int) -> str:
    """The `Range` of bytes an upload holds (inclusive end; "0-0" when empty, as Distribution does)."""
    return f"0-{max(size - 1, 0)}"


def link_next(path: str, n: int | None, last: str) -> dict[str, str]:
    from urllib.parse import urlencode

    query = {"last": last} if n is None else {"n": str(n), "last": last}
    return {"Link": f'<{path}?{urlencode(query)}>; rel="next"'}
