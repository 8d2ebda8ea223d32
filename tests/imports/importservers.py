"""The source registries the import tests copy from (started by tests/imports/conftest.py)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import AsyncIterator, Iterator


class Liar:
    """A uvicorn thread serving a fixed set of manifests and blobs, some of them lies."""

    def __init__(self) -> None:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response, StreamingResponse
        from starlette.routing import Route

        self.manifests: dict[str, tuple[bytes, str]] = {}  # "repo:ref" -> (body, content type)
        self.blobs: dict[str, bytes] = {}  # "repo@digest" -> bytes served (whatever the digest says)
        self.blob_requests: list[str] = []
        self.slow: dict[str, bytes] = {}  # "repo@digest" -> bytes served 64 KiB every 10 ms
        self.finished: dict[str, str] = {}  # "repo@digest" of a slow blob -> "sent" | "cut" (the reader left)
        self.storage_requests: list[dict[str, str]] = []  # headers of redirected blob GETs
        self._stored: list[str] = []

        async def ping(_request: Request) -> Response:
            return Response(b"{}", media_type="application/json")

        def refused(request: Request) -> Response | None:
            """Repositories under basic/ want HTTP Basic (a plain Basic challenge, no token service)."""
            if not request.path_params["name"].startswith("basic/"):
                return None
            if request.headers.get("authorization") == "Basic " + base64.b64encode(b"puller:s3cret").decode():
                return None
            return Response(b'{"errors":[{"code":"UNAUTHORIZED"}]}', status_code=401,
                            headers={"WWW-Authenticate": 'Basic realm="liar"'})

        async def manifest(request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            key = f"{request.path_params['name']}:{request.path_params['ref']}"
            if key not in self.manifests:
                return Response(b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', status_code=404)
            body, ctype = self.manifests[key]
            return Response(body, media_type=ctype)

        async def blob(request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            key = f"{request.path_params['name']}@{request.path_params['digest']}"
            self.blob_requests.append(key)
            if key.startswith("redirect/") and key in self.blobs:  # as a registry on S3 answers: elsewhere
                return Response(status_code=307, headers={"Location": f"/storage/{self.blobs_index(key)}"})
            if key in self.slow:
                return StreamingResponse(self._trickle(key, self.slow[key]), media_type="application/octet-stream",
                                         headers={"Content-Length": str(len(self.slow[key]))})
            if key not in self.blobs:
                return Response(b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', status_code=404)
            return Response(self.blobs[key], media_type="application/octet-stream")

        async def storage(request: Request) -> Response:
            self.storage_requests.append(dict(request.headers))
            return Response(self.blobs[self._stored[int(request.path_params["n"])]],
                            media_type="application/octet-stream")

        self.app = Starlette(routes=[
            Route("/storage/{n:int}", storage),
            Route("/v2/", ping),
            Route("/v2/{name:path}/manifests/{ref}", manifest),
            Route("/v2/{name:path}/blobs/{digest}", blob),
        ])

    def blobs_index(self, key: str) -> int:
        self._stored.append(key)
        return len(self._stored) - 1

    async def _trickle(self, key: str, data: bytes) -> AsyncIterator[bytes]:
        import asyncio

        outcome = "cut"
        try:
            for start in range(0, len(data), 65536):
                yield data[start:start + 65536]
                await asyncio.sleep(0.01)
            outcome = "sent"
        finally:
            self.finished[key] = outcome

    def serve(self, port: int) -> Iterator[Liar]:
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(10)
