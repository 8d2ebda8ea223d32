"""Response helpers shared by the /v2/ handlers."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cargohold.core.blocking import blocking
from cargohold.core.ports.blob_store import BlobReader

from .errors import API_VERSION_HEADER

CHUNK = 1 << 20
CHUNK_MEMORY_KEPT = 8 << 20  # free heap memory glibc may keep at the top of an arena


def keep_chunk_memory(limit: int = CHUNK_MEMORY_KEPT) -> bool:
    """Stop glibc from handing each streamed chunk's memory back to the kernel.

    A blob GET reads 1 MiB chunks in a worker thread (allocated in that thread's
    arena) and frees them on the event loop after sending. With glibc's default
    trimming, the arena is shrunk (madvise MADV_DONTNEED) every other chunk, so
    every chunk faults its pages in again: ~1 400 instead of ~2 600 MiB/s and
    twice the CPU. Keeping up to `limit` bytes free at the top of an arena (what
    MALLOC_TRIM_THRESHOLD_ does) ends that churn. A no-op off glibc; returns
    whether the setting took.
    """
    if os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return False  # the operator chose
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(-1, limit))  # M_TRIM_THRESHOLD


keep_chunk_memory()


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
