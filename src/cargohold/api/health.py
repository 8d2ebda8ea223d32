"""GET /healthz (liveness: the process answers) and GET /readyz (readiness: the database and the
storage are reachable; 200 with `storage: low` when only the free-space reserve is reached, 503
otherwise). Unauthenticated, like any load balancer probe; they reveal no registry content."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cargohold.core.blocking import blocking
from cargohold.core.storage_space import StorageSpace, readiness


def _json(status: int, body: dict[str, object]) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def health_routes(database: Callable[[], object], space: StorageSpace) -> list[Route]:
    """The two probes; `database` is a cheap query that raises when the database does not answer."""

    async def healthz(_request: Request) -> Response:
        return _json(200, {"status": "alive"})

    async def readyz(_request: Request) -> Response:
        ready, body = await blocking(readiness, database, space)
        return _json(200 if ready else 503, body)

    return [Route("/healthz", healthz, methods=["GET", "HEAD"]), Route("/readyz", readyz, methods=["GET", "HEAD"])]
