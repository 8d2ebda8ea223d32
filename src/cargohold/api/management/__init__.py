"""The control-plane REST API (docs/management-api.md), a FastAPI app mounted at /api.

Handlers are thin: parse the request, call a core service, render the result. Every rule lives in
core; every refusal is `{"errors":[{code, message, detail}]}`. The services come built from the
composition root (app.py, `Management`); only the FastAPI app (and FastAPI, pydantic) is built on the
first /api request, so a worker that only serves /v2/ never loads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from .services import Management


class _Lazy:
    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)


def management_api(management: Management) -> ASGIApp:
    """The ASGI app to mount at /api. Changes made through it drop the access service's cached grants and
    passwords in this worker at once; other workers notice within AccessService's cache lifetime (5 s).
    Each request addresses the registry its Host (or X-Cargohold-Registry header) names."""

    def build() -> ASGIApp:
        from .app import create_management_app

        return create_management_app(management)

    return _Lazy(build)


class _ApiMount(Mount):
    """Mount("/api") whose pattern also takes paths holding a newline (%0A), so that every path below /api
    gets this API's own 404 rather than the data plane's."""

    def __init__(self, path: str, app: ASGIApp) -> None:
        super().__init__(path, app=app)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


def management_mount(management: Management) -> Mount:
    """The route serving the control plane at /api (see `management_api`)."""
    return _ApiMount("/api", management_api(management))
